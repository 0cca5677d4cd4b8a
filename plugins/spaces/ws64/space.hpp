#pragma once
/// The 64-child space as a SearchSpace ([space] name = "ws64"): C = 16 and 4 cells by
/// default, as the ranking study's network.

#include "nasx/space.hpp"
#include "ws64/child.hpp"

namespace nasx::ws64 {

class Ws64Space : public SearchSpace {
 public:
  static ParamSchema schema();
  Ws64Space();
  explicit Ws64Space(SpaceOptions options);
  void setup(const ParamValues& params) override;
  const SpaceOptions& options() const { return options_; }

  std::string name() const override { return "ws64"; }
  const std::vector<std::string>& operations() const override { return operation_names(); }
  std::vector<std::string> cell_types() const override { return {"cell"}; }
  int64_t edges_per_cell() const override { return kEdges; }
  /// One cell type; all 3 edges kept, one of the 4 operations each.
  std::vector<CellDecisions> decisions() const override;
  /// The reference's: SGD lr 0.025 cosine to 0.001, momentum 0.9, wd 1e-3, batch 256,
  /// 200 epochs, no clipping, no augmentation; C = 16, 4 cells.
  TrainingProtocol training_protocol() const override;
  std::shared_ptr<Supernet> build_supernet(const DataShape& shape) const override;
  std::shared_ptr<nasx::Network> build_network(const Architecture& arch, const DataShape& shape,
                                               int64_t channels, int64_t layers) const override;
  /// The text form is the child's three digits.
  Architecture parse(std::string_view text) const override;
  std::string format(const Architecture& arch) const override;
  Json json(const Architecture& arch) const override;
  void check(const Architecture& arch) const override;
  Architecture sample(std::mt19937_64& rng) const override;
  /// One edge uniformly, a different operation on it.
  Architecture mutate(const Architecture& arch, std::mt19937_64& rng) const override;
  /// The 9 children one operation away, edge by edge, operations in digit order.
  std::vector<Architecture> neighbours(const Architecture& arch) const override;
  /// Argmax per edge.
  Architecture derive(const std::vector<at::Tensor>& weights) const override;

 private:
  void configure(SpaceOptions options);
  SpaceOptions options_;
};

Architecture to_architecture(const Child& child);
Child to_child(const Architecture& arch);

}  // namespace nasx::ws64
