# clients_bench: create through the real HTTP Customer/Inventory clients against fast stub
# services, compared in the same run with the in-process fakes. It reuses the test support code
# (the server as a child process, the stub services), so it exists only with the tests.
if(BUILD_TESTING)
  add_executable(clients_bench ${CMAKE_CURRENT_LIST_DIR}/clients_bench.cpp)
  target_link_libraries(clients_bench PRIVATE test_support stub_service nlohmann_json::nlohmann_json
    Threads::Threads orderflow_warnings)
endif()
