// What the failures of the layers below become: one table, in app/error_mapping.cpp.
#include <catch2/catch.hpp>

#include "app/error_mapping.h"

using namespace orderflow::app;

TEST_CASE("store errors map by their code: outages retry, corruption and bugs do not", "[app][errors]") {
  using C = StoreError::Code;
  auto unavailable = from_store(StoreError{"engine down", C::unavailable});
  CHECK(unavailable.code == ErrorCode::storage_unavailable);
  CHECK(unavailable.retry_after_s == 5);
  CHECK(unavailable.message() == "Storage is unavailable: engine down");
  auto full = from_store(StoreError{"no space", C::full});
  CHECK(full.code == ErrorCode::storage_unavailable);
  CHECK(full.retry_after_s == 30);
  auto closed = from_store(StoreError{"closing", C::closed});
  CHECK(closed.code == ErrorCode::storage_unavailable);
  CHECK(closed.retry_after_s == 1);
  auto corrupt = from_store(StoreError{"corrupt event record at sequence 3", C::corrupt});
  CHECK(corrupt.code == ErrorCode::storage_corrupt);
  CHECK(corrupt.retry_after_s == 0);
  CHECK(corrupt.message() == "Stored data is corrupt: corrupt event record at sequence 3");
  CHECK(code_name(corrupt.code) == "storage_corrupt");
  auto invalid = from_store(StoreError{"unknown family 'x'", C::invalid});
  CHECK(invalid.code == ErrorCode::internal);
  CHECK(invalid.retry_after_s == 0);
}

TEST_CASE("dependency and append errors keep their codes and hints", "[app][errors]") {
  auto open_circuit =
      from_dependency(DependencyError{DependencyError::Kind::unavailable, "circuit open", 12});
  CHECK(open_circuit.code == ErrorCode::dependency_unavailable);
  CHECK(open_circuit.retry_after_s == 12);
  CHECK(from_dependency(DependencyError{DependencyError::Kind::timeout, "slow", 0}).code ==
        ErrorCode::dependency_timeout);
  CHECK(from_append(AppendError{AppendError::Code::overloaded, "", 0, {}}).code == ErrorCode::overloaded);
  auto failed = from_append(AppendError{AppendError::Code::storage_failed, "disk", 0, {}});
  CHECK(failed.code == ErrorCode::storage_unavailable);
  CHECK(failed.message() == "Storage is unavailable: disk");
}
