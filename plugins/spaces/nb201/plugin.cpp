// The NAS-Bench-201 cell space as a plugin ([space] name = "nb201").
#include "nb201/supernet.hpp"

NASX_PLUGIN(nasx::nb201::Nb201Space, "nb201", "1.0.0",
            "NAS-Bench-201 cells: one cell type, 6 edges, 5 operations, 15,625 cells "
            "(Dong & Yang, ICLR 2020)")
