#ifndef COLT_CCURL_SHIM_H
#define COLT_CCURL_SHIM_H
#include <curl/curl.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic: Swift calls these typed wrappers instead. */

static inline CURLcode colt_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode colt_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode colt_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode colt_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode colt_curl_setopt_size(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }

typedef size_t (*colt_curl_data_callback)(char *data, size_t size, size_t count, void *userdata);
static inline CURLcode colt_curl_setopt_data_callback(CURL *h, CURLoption o, colt_curl_data_callback cb) { return curl_easy_setopt(h, o, cb); }

static inline CURLcode colt_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode colt_curl_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLMcode colt_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }

/* curl_global_init's flag is a macro expression; this keeps it out of Swift. */
static inline CURLcode colt_curl_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT); }

/* The result of a finished transfer sits in an anonymous union of CURLMsg. */
static inline int colt_curl_msg_is_done(const CURLMsg *m) { return m->msg == CURLMSG_DONE; }
static inline CURL *colt_curl_msg_easy(const CURLMsg *m) { return m->easy_handle; }
static inline CURLcode colt_curl_msg_result(const CURLMsg *m) { return m->data.result; }

/* Size of the buffer CURLOPT_ERRORBUFFER writes into. */
static inline size_t colt_curl_error_size(void) { return CURL_ERROR_SIZE; }

typedef int (*colt_curl_prereq_callback)(void *clientp, char *primary_ip, char *local_ip, int primary_port, int local_port);
/* CURLOPT_PREREQFUNCTION (libcurl 7.80+) runs each time a request is about to be sent, so a
   transfer can count libcurl's own resends on a fresh connection after a reused one died. */
static inline CURLcode colt_curl_setopt_prereq_callback(CURL *h, colt_curl_prereq_callback cb) { return curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, cb); }
static inline CURLcode colt_curl_setopt_prereq_data(CURL *h, void *data) { return curl_easy_setopt(h, CURLOPT_PREREQDATA, data); }
#endif
