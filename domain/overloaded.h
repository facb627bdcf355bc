#pragma once
// The usual helper for std::visit with one lambda per alternative.

namespace orderflow::domain {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace orderflow::domain
