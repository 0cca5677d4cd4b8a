#pragma once
/// Channels-last activations, the layout LibTorch's CPU convolutions run fastest in.

#include <ATen/ATen.h>

namespace nasx {

/// `images` ([N, C, H, W]) in channels-last layout, one image channel included. For
/// C = 1 both layouts are "contiguous" and `.contiguous(ChannelsLast)` keeps the
/// NCHW strides, so every layer after it would follow those and run in the slow
/// layout (Fashion-MNIST's whole network did). The values are unchanged.
inline at::Tensor channels_last(const at::Tensor& images) {
  if (images.dim() != 4) return images;
  if (images.size(1) != 1) return images.contiguous(at::MemoryFormat::ChannelsLast);
  if (images.stride(1) == 1) return images;
  at::Tensor out =
      at::empty(images.sizes(), images.options().memory_format(at::MemoryFormat::ChannelsLast));
  return out.copy_(images);
}

}  // namespace nasx
