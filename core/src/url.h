/* url.h: resolving references against a base URL (RFC 3986 §5.2, the common cases).
 * Returns a malloc'd absolute URL owned by the caller, or NULL when out of memory. */
#ifndef KP_URL_H
#define KP_URL_H

char *kp_url_resolve(const char *base, const char *ref);
/* true when s starts with a scheme ("http:", "https:" ...). */
int kp_url_has_scheme(const char *s);

#endif
