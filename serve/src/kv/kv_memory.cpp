#include "gearbox/serve/kv/kv_memory.hpp"

#include "gearbox/core/error.hpp"

namespace gearbox::serve::kv {

KvMemory::KvMemory(std::size_t budget_bytes) : budget_(budget_bytes) {
  if (budget_bytes == 0) throw Error::usage("KV budget must be positive").field("kv-budget");
}

std::size_t KvMemory::available() const {
  const std::size_t u = used_.load();
  return u >= budget_ ? 0 : budget_ - u;
}

bool KvMemory::try_charge(std::size_t bytes) {
  std::size_t u = used_.load();
  do {
    if (bytes > budget_ || u > budget_ - bytes) return false;
  } while (!used_.compare_exchange_weak(u, u + bytes));
  std::size_t p = peak_.load();
  while (p < u + bytes && !peak_.compare_exchange_weak(p, u + bytes)) {
  }
  return true;
}

void KvMemory::uncharge(std::size_t bytes) {
  used_.fetch_sub(bytes);
}

}  // namespace gearbox::serve::kv
