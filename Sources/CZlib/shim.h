#ifndef MEDTUNE_CZLIB_SHIM_H
#define MEDTUNE_CZLIB_SHIM_H
#include <zlib.h>
#endif
