/* Test plugin loopy_tick: discrete (see loopy.h). */
#define PLUGIN_NAME "loopy_tick"
#define LOOPY_DISCRETE

#include "loopy.h"
