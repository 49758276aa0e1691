// Where gearbox_gnn.spmm's output tensors come from: a pool of CPU blocks that keeps blocks
// whose tensors were freed, so that the next output of the same size reuses memory whose pages
// are already mapped. With torch's default allocator each call's output is a fresh block: for
// a large one glibc mmaps it (or trims it back to the kernel when freed), and the kernel's
// first write to each 4 KiB page then takes a page fault, which on small graphs costs as much
// as the aggregation itself (a C++ caller reuses its Y). A block is handed out again only
// after the tensor that held it (its storage) was freed: a pooled block never aliases a tensor
// the user still holds.
//
// The pool keeps at most GEARBOX_GNN_OUTPUT_CACHE_MB MiB of free blocks (read once; default
// 1024; 0 turns the pool off, so every output is a fresh block as torch.empty would give);
// free blocks beyond that go back to the system, and release_cached() returns all of them.
#pragma once

#include <cstddef>
#include <cstdint>

#include <torch/extension.h>

namespace gearbox_py {

// An uninitialised float32 CPU tensor [rows, cols] (contiguous, resizable) from the pool.
torch::Tensor pooled_empty(int64_t rows, int64_t cols);

// Returns every free block to the system; the bytes released.
std::size_t release_cached();

// Bytes of free blocks the pool holds now.
std::size_t cached_bytes();

// The pool's limit on free bytes (GEARBOX_GNN_OUTPUT_CACHE_MB, in bytes).
std::size_t cache_limit();

}  // namespace gearbox_py
