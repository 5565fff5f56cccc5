/* Test plugin loopy: outputs only (see loopy.h). */
#define PLUGIN_NAME "loopy"

#include "loopy.h"
