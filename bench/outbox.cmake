# relay_bench: outbox relay throughput and end-to-end lag against a private rabbitmq-server, beside
# a bare rabbitmq-c loop (the limit). Starts its own broker through tests/support/rabbitmq_broker.
add_executable(relay_bench
  ${CMAKE_CURRENT_LIST_DIR}/relay_bench.cpp
  ${PROJECT_SOURCE_DIR}/tests/support/rabbitmq_broker.cpp
  ${PROJECT_SOURCE_DIR}/tests/support/server_process.cpp
  ${PROJECT_SOURCE_DIR}/tests/support/postgres_server.cpp)
target_link_libraries(relay_bench PRIVATE orderflow_outbox orderflow_eventstore rabbitmq::rabbitmq Threads::Threads
  orderflow_warnings PkgConfig::libpq)
target_include_directories(relay_bench PRIVATE ${PROJECT_SOURCE_DIR})
# server_process.cpp (only its TempDir is used here) wants the server binary's path, and
# postgres_server.cpp (a server under test may run on PostgreSQL: ORDERFLOW_TEST_STORE).
target_compile_definitions(relay_bench PRIVATE ORDERFLOW_BINARY="$<TARGET_FILE:orderflow>")
