#pragma once
// ES_INVARIANT(cond): an assertion that stays on in release builds (RelWithDebInfo defines
// NDEBUG). A broken invariant in the committer means the log could get a gap or a duplicate;
// crashing loudly is safer than writing on. Keep the conditions cheap: they run per batch.
#include <cstdio>
#include <cstdlib>

#define ES_INVARIANT(cond)                                                                           \
  do {                                                                                               \
    if (!(cond)) {                                                                                   \
      std::fprintf(stderr, "eventstore invariant broken at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                                  \
    }                                                                                                \
  } while (0)
