/* Test plugin loopy_state: with a state (see loopy.h). */
#define PLUGIN_NAME "loopy_state"
#define LOOPY_STATE

#include "loopy.h"
