#pragma once
/// How a space's networks are trained from scratch: the recipe a space ships
/// (SearchSpace::training_protocol), which the host's trainer follows for final
/// training, the `train` evaluator and ensemble members, and which a config's [train]
/// table overrides key by key.

#include <cstdint>

namespace nasx {

/// SGD with a per-epoch cosine schedule and the DARTS evaluation extras. The defaults
/// are NAS-Bench-201's protocol (lr 0.1 cosine to 0, momentum 0.9, Nesterov, wd 5e-4,
/// no augmentation); the DARTS reference's final training is lr 0.025 to 0, plain
/// momentum, wd 3e-4, auxiliary weight 0.4, drop path 0.2, cutout 16, crop padding 4, flip.
struct TrainOptions {
  int64_t epochs = 1;
  int64_t batch_size = 64;
  double lr = 0.1;
  double lr_min = 0.0;
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 5e-4;
  double grad_clip = 5.0;         ///< 0: off
  double auxiliary_weight = 0.0;  ///< loss weight of an auxiliary head (0: not trained)
  double drop_path_prob = 0.0;    ///< final drop-path probability, reached linearly
  int64_t cutout = 0;             ///< side of the zeroed square per image (0: off)
  int64_t crop_padding = 0;       ///< random crop after zero padding by this much (0: off)
  bool flip = false;              ///< random horizontal flips
};

/// A space's recipe: the network's size and the trainer's settings.
struct TrainingProtocol {
  int64_t channels = 16;  ///< C of the network
  int64_t layers = 5;     ///< the space's depth setting (DARTS: cells; NB201: cells per stage)
  TrainOptions options;
};

}  // namespace nasx
