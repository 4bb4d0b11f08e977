#ifndef SWITCHYARD_CCRYPTO_SHIM_H
#define SWITCHYARD_CCRYPTO_SHIM_H
// OpenSSL's libcrypto (the library libldns itself signs TSIG with): HMAC and a
// constant-time comparison for TSIG (RFC 8945).
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif
