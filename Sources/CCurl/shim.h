#ifndef MEDTUNE_CCURL_SHIM_H
#define MEDTUNE_CCURL_SHIM_H
#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call. These wrappers
// fix the argument type of each kind of option.

static inline CURLcode medtune_curl_setopt_long(CURL *c, CURLoption o, long v) {
    return curl_easy_setopt(c, o, v);
}
static inline CURLcode medtune_curl_setopt_off(CURL *c, CURLoption o, curl_off_t v) {
    return curl_easy_setopt(c, o, v);
}
static inline CURLcode medtune_curl_setopt_string(CURL *c, CURLoption o, const char *v) {
    return curl_easy_setopt(c, o, v);
}
static inline CURLcode medtune_curl_setopt_pointer(CURL *c, CURLoption o, void *v) {
    return curl_easy_setopt(c, o, v);
}
static inline CURLcode medtune_curl_setopt_slist(CURL *c, CURLoption o, struct curl_slist *v) {
    return curl_easy_setopt(c, o, v);
}
/// CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION share this signature.
static inline CURLcode medtune_curl_setopt_write_callback(CURL *c, CURLoption o, curl_write_callback v) {
    return curl_easy_setopt(c, o, v);
}

static inline CURLcode medtune_curl_getinfo_long(CURL *c, CURLINFO i, long *v) {
    return curl_easy_getinfo(c, i, v);
}
static inline CURLcode medtune_curl_getinfo_string(CURL *c, CURLINFO i, char **v) {
    return curl_easy_getinfo(c, i, v);
}

#endif
