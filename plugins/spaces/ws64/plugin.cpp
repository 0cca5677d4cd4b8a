// The 64-child space of the weight-sharing ranking study as a plugin ([space] name = "ws64").
#include "ws64/space.hpp"

NASX_PLUGIN(nasx::ws64::Ws64Space, "ws64", "1.0.0",
            "the 64-child space of the weight-sharing ranking study: 1 input node, 2 nodes, "
            "3 dense edges, 4 operations, 4 cells, children 111 ... 444 (Zhang et al. 2020)")
