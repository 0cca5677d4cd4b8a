# One place for the warning flags every nasx target uses.
function(nasx_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(NASX_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# The heavy LibTorch headers, precompiled once per target.
set(NASX_TORCH_PCH
  <torch/nn/module.h>
  <torch/nn/modules/conv.h>
  <torch/nn/modules/batchnorm.h>
  <torch/nn/modules/linear.h>
  <torch/nn/modules/pooling.h>
  <torch/nn/functional/activation.h>
  <torch/nn/functional/loss.h>
  <torch/serialize/archive.h>
  <torch/autograd.h>
  <ATen/ATen.h>
  <vector>
  <string>
  <memory>
  <functional>
  <map>
  <nlohmann/json.hpp>)
