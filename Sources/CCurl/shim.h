#ifndef MEDTUNE_CCURL_SHIM_H
#define MEDTUNE_CCURL_SHIM_H
#include <curl/curl.h>
#endif
