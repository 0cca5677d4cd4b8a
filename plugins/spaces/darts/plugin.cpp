// The DARTS cell space as a plugin ([space] name = "darts").
#include "darts/supernet.hpp"

NASX_PLUGIN(nasx::darts::DartsSpace, "darts", "1.0.0",
            "DARTS cells: 2 cell types, 4 nodes choosing 2 of their inputs, 8 operations "
            "(Liu et al., ICLR 2019)")
