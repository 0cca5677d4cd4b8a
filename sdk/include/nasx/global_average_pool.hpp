#pragma once

#include <ATen/core/Tensor.h>

#include "nasx/export.hpp"

namespace nasx {

/// x [N, C, H, W] averaged over H and W: [N, C], x.mean({2, 3}) to the bit, forward and
/// backward, except that the gradient comes back in x's layout. mean's own backward gives
/// an expanded tensor, which every operation before it (the concatenation of the last
/// cell's states, their BatchNorms) then reads as a contiguous one: on channels-last
/// networks the last cell's BatchNorms fell back to LibTorch's slower kernels.
NASX_API at::Tensor global_average_pool(const at::Tensor& x);

}  // namespace nasx
