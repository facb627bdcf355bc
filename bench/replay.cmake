# Rebuild speed of orderflow-replay against the raw scan rate of the same log (BENCHMARKS.md).
add_executable(replay_bench ${CMAKE_CURRENT_LIST_DIR}/replay_bench.cpp)
target_link_libraries(replay_bench PRIVATE orderflow_replay orderflow_warnings Threads::Threads)
