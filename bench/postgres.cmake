# The PostgreSQL backend's benchmarks (issue 21): durable appends/s through the event store, with a
# private PostgreSQL started the way the tests start theirs.
add_executable(postgres_append_bench postgres_append_bench.cpp ${PROJECT_SOURCE_DIR}/tests/support/postgres_server.cpp)
target_link_libraries(postgres_append_bench PRIVATE orderflow_projections_postgres orderflow_eventstore_postgres orderflow_app PkgConfig::libpq
  Threads::Threads orderflow_warnings)
