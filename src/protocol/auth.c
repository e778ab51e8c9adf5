/* MySQL auth: native and caching_sha2 scrambles, sha256-crypt, RSA password exchange. */
#include "protocol/auth.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#define AUTH_RSA_BITS 2048

/* The server key pair of caching_sha2 full auth, and its public half as PEM,
 * made once by auth_rsa_init() before the loop starts. */
static EVP_PKEY *auth_rsa_key;
static char *auth_rsa_pem;
static size_t auth_rsa_pem_len;

/* ---- digests ---- */

/* One-shot digest over up to two pieces. The digests used here cannot fail
 * short of memory exhaustion inside OpenSSL; if they do, continuing with an
 * undefined digest would weaken authentication, so stop the process. */
static void auth_digest2(const EVP_MD *md, const void *a, size_t alen, const void *b, size_t blen,
                         uint8_t *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
        EVP_DigestUpdate(ctx, a, alen) != 1 || (blen > 0 && EVP_DigestUpdate(ctx, b, blen) != 1) ||
        EVP_DigestFinal_ex(ctx, out, NULL) != 1)
        abort();
    EVP_MD_CTX_free(ctx);
}

static void auth_sha1(const void *a, size_t alen, uint8_t out[20])
{
    auth_digest2(EVP_sha1(), a, alen, NULL, 0, out);
}

static void auth_sha256(const void *a, size_t alen, uint8_t out[32])
{
    auth_digest2(EVP_sha256(), a, alen, NULL, 0, out);
}

static void auth_xor(uint8_t *dst, const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = a[i] ^ b[i];
}

/* ---- nonce ---- */

/* Printable bytes 0x21..0x7e without '$' (93 values). Rejection sampling keeps
 * the distribution uniform. Without randomness the nonce would be predictable
 * and replayable, so a RAND_bytes failure stops the process. */
void auth_make_nonce(uint8_t nonce[AUTH_NONCE_LEN])
{
    uint8_t buf[64];
    size_t n = 0, used = sizeof(buf);

    while (n < AUTH_NONCE_LEN) {
        if (used == sizeof(buf)) {
            if (RAND_bytes(buf, sizeof(buf)) != 1) abort();
            used = 0;
        }
        uint8_t b = buf[used++];
        if (b >= 93 * 2) continue;
        uint8_t c = (uint8_t)(0x21 + b % 93);
        if (c >= '$') c++; /* skip '$': 0x24..0x7d shift to 0x25..0x7e */
        nonce[n++] = c;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
}

/* ---- mysql_native_password ---- */

void auth_native_stage2(const char *pw, size_t pwlen, uint8_t stage2[20])
{
    uint8_t stage1[20];

    auth_sha1(pw, pwlen, stage1);
    auth_sha1(stage1, 20, stage2);
    OPENSSL_cleanse(stage1, sizeof(stage1));
}

void auth_native_token_from_stage1(const uint8_t stage1[20], const uint8_t nonce[20],
                                   uint8_t out[20])
{
    uint8_t stage2[20], mask[20];

    auth_sha1(stage1, 20, stage2);
    auth_digest2(EVP_sha1(), nonce, AUTH_NONCE_LEN, stage2, 20, mask);
    auth_xor(out, stage1, mask, 20);
}

/* An empty password has a zero-length token; out is left untouched and the
 * caller sends nothing (it knows pwlen). */
void auth_native_token(const char *pw, size_t pwlen, const uint8_t nonce[20], uint8_t out[20])
{
    uint8_t stage1[20];

    if (pwlen == 0) return;
    auth_sha1(pw, pwlen, stage1);
    auth_native_token_from_stage1(stage1, nonce, out);
    OPENSSL_cleanse(stage1, sizeof(stage1));
}

/* The token is stage1 XOR SHA1(nonce + stage2), so XORing the mask back gives
 * a candidate stage1; it is right exactly when SHA1(candidate) == stage2. */
bool auth_native_verify(const uint8_t stage2[20], bool empty_pw, const uint8_t nonce[20],
                        const uint8_t *token, size_t len, uint8_t stage1_out[20])
{
    uint8_t mask[20], stage1[20], check[20];
    bool ok;

    if (empty_pw) {
        if (len != 0) return false;
        if (stage1_out != NULL) auth_sha1("", 0, stage1_out);
        return true;
    }
    if (len != AUTH_NATIVE_LEN || token == NULL) return false;
    auth_digest2(EVP_sha1(), nonce, AUTH_NONCE_LEN, stage2, 20, mask);
    auth_xor(stage1, token, mask, 20);
    auth_sha1(stage1, 20, check);
    ok = CRYPTO_memcmp(check, stage2, 20) == 0;
    if (ok && stage1_out != NULL) memcpy(stage1_out, stage1, 20);
    OPENSSL_cleanse(stage1, sizeof(stage1));
    return ok;
}

static int auth_hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int auth_native_parse_hash(const char *s, uint8_t stage2[20])
{
    uint8_t tmp[20];

    if (s == NULL || s[0] != '*' || strlen(s) != 41) return -1;
    for (size_t i = 0; i < 20; i++) {
        int hi = auth_hexval(s[1 + 2 * i]), lo = auth_hexval(s[2 + 2 * i]);
        if (hi < 0 || lo < 0) return -1;
        tmp[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(stage2, tmp, 20);
    return 0;
}

/* ---- caching_sha2_password fast auth ---- */

void auth_sha2_stage2(const char *pw, size_t pwlen, uint8_t stage2[32])
{
    uint8_t stage1[32];

    auth_sha256(pw, pwlen, stage1);
    auth_sha256(stage1, 32, stage2);
    OPENSSL_cleanse(stage1, sizeof(stage1));
}

/* Unlike native, the nonce comes after the digest in the mask. */
void auth_sha2_token_from_stage1(const uint8_t stage1[32], const uint8_t nonce[20], uint8_t out[32])
{
    uint8_t stage2[32], mask[32];

    auth_sha256(stage1, 32, stage2);
    auth_digest2(EVP_sha256(), stage2, 32, nonce, AUTH_NONCE_LEN, mask);
    auth_xor(out, stage1, mask, 32);
}

void auth_sha2_token(const char *pw, size_t pwlen, const uint8_t nonce[20], uint8_t out[32])
{
    uint8_t stage1[32];

    auth_sha256(pw, pwlen, stage1);
    auth_sha2_token_from_stage1(stage1, nonce, out);
    OPENSSL_cleanse(stage1, sizeof(stage1));
}

/* A client with an empty password sends either nothing or a single NUL byte
 * (MySQL's server accepts both); that matches only a stage2 of "". Otherwise
 * the token must be 32 bytes and unmask to a stage1 whose SHA256 is stage2. */
bool auth_sha2_verify(const uint8_t stage2[32], const uint8_t nonce[20], const uint8_t *token,
                      size_t len, uint8_t stage1_out[32])
{
    uint8_t mask[32], stage1[32], check[32];
    bool ok;

    if (len == 0 || (len == 1 && token != NULL && token[0] == 0)) {
        auth_sha256("", 0, stage1);
        auth_sha256(stage1, 32, check);
    } else {
        if (len != AUTH_SHA2_LEN || token == NULL) return false;
        auth_digest2(EVP_sha256(), stage2, 32, nonce, AUTH_NONCE_LEN, mask);
        auth_xor(stage1, token, mask, 32);
        auth_sha256(stage1, 32, check);
    }
    ok = CRYPTO_memcmp(check, stage2, 32) == 0;
    if (ok && stage1_out != NULL) memcpy(stage1_out, stage1, 32);
    OPENSSL_cleanse(stage1, sizeof(stage1));
    return ok;
}

/* ---- sha256-crypt (Drepper's SHA-crypt, as MySQL stores it) ---- */

#define AUTH_CRYPT_SALT_LEN 20
#define AUTH_CRYPT_DIGEST_LEN 43
#define AUTH_CRYPT_PREFIX_LEN 7 /* "$A$005$" */
#define AUTH_CRYPT_STORED_LEN (AUTH_CRYPT_PREFIX_LEN + AUTH_CRYPT_SALT_LEN + AUTH_CRYPT_DIGEST_LEN)
/* sha256-crypt costs O(pwlen^2) (the P digest hashes pw pwlen times), and a
 * clear-text password from a client over TLS can be megabytes; MySQL refuses
 * caching_sha2 passwords longer than 256 bytes for the same reason. */
#define AUTH_CRYPT_MAX_PW 256

static const char auth_b64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Adds `len` bytes taken from the 32-byte block `src` repeated as needed. */
static int auth_update_repeat(EVP_MD_CTX *ctx, const uint8_t src[32], size_t len)
{
    for (; len >= 32; len -= 32)
        if (EVP_DigestUpdate(ctx, src, 32) != 1) return -1;
    return len > 0 && EVP_DigestUpdate(ctx, src, len) != 1 ? -1 : 0;
}

/* Emits the low n 6-bit groups of (b2 b1 b0), least significant first. */
static char *auth_b64_24(char *p, uint8_t b2, uint8_t b1, uint8_t b0, int n)
{
    uint32_t w = (uint32_t)b2 << 16 | (uint32_t)b1 << 8 | b0;

    while (n-- > 0) {
        *p++ = auth_b64[w & 0x3f];
        w >>= 6;
    }
    return p;
}

/* Drepper's SHA-crypt specification with SHA-256: digests B, A, P, S, then
 * `rounds` stretching steps, then a permuted base-64 of the final digest. */
int auth_sha256_crypt(const char *pw, size_t pwlen, const uint8_t *salt, size_t saltlen,
                      unsigned rounds, char out[AUTH_CRYPT_DIGEST_LEN])
{
    static const uint8_t perm[10][3] = {{0, 10, 20}, {21, 1, 11}, {12, 22, 2}, {3, 13, 23},
                                        {24, 4, 14}, {15, 25, 5}, {6, 16, 26}, {27, 7, 17},
                                        {18, 28, 8}, {9, 19, 29}};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const EVP_MD *md = EVP_sha256();
    uint8_t a[32], b[32], dp[32], ds[32];
    uint8_t *p = NULL, *s = NULL;
    char *o = out;
    int rc = -1;

    if (ctx == NULL) goto fail;
    p = malloc(pwlen + 1);
    s = malloc(saltlen + 1);
    if (p == NULL || s == NULL) goto fail;

    /* B = H(pw salt pw) */
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, pw, pwlen) != 1 ||
        EVP_DigestUpdate(ctx, salt, saltlen) != 1 || EVP_DigestUpdate(ctx, pw, pwlen) != 1 ||
        EVP_DigestFinal_ex(ctx, b, NULL) != 1)
        goto fail;

    /* A = H(pw salt B-repeated-to-pwlen, then per bit of pwlen: B if 1, pw if 0) */
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, pw, pwlen) != 1 ||
        EVP_DigestUpdate(ctx, salt, saltlen) != 1 || auth_update_repeat(ctx, b, pwlen) != 0)
        goto fail;
    for (size_t n = pwlen; n > 0; n >>= 1) {
        if ((n & 1) ? EVP_DigestUpdate(ctx, b, 32) != 1 : EVP_DigestUpdate(ctx, pw, pwlen) != 1)
            goto fail;
    }
    if (EVP_DigestFinal_ex(ctx, a, NULL) != 1) goto fail;

    /* P: pwlen bytes of DP = H(pw repeated pwlen times) */
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1) goto fail;
    for (size_t i = 0; i < pwlen; i++)
        if (EVP_DigestUpdate(ctx, pw, pwlen) != 1) goto fail;
    if (EVP_DigestFinal_ex(ctx, dp, NULL) != 1) goto fail;
    for (size_t i = 0; i < pwlen; i++)
        p[i] = dp[i % 32];

    /* S: saltlen bytes of DS = H(salt repeated 16 + A[0] times) */
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1) goto fail;
    for (unsigned i = 0; i < 16u + a[0]; i++)
        if (EVP_DigestUpdate(ctx, salt, saltlen) != 1) goto fail;
    if (EVP_DigestFinal_ex(ctx, ds, NULL) != 1) goto fail;
    for (size_t i = 0; i < saltlen; i++)
        s[i] = ds[i % 32];

    /* The stretching loop; C lives in a. */
    for (unsigned r = 0; r < rounds; r++) {
        int ok = EVP_DigestInit_ex(ctx, md, NULL) == 1;
        ok = ok && ((r & 1) ? EVP_DigestUpdate(ctx, p, pwlen) : EVP_DigestUpdate(ctx, a, 32)) == 1;
        ok = ok && (r % 3 == 0 || EVP_DigestUpdate(ctx, s, saltlen) == 1);
        ok = ok && (r % 7 == 0 || EVP_DigestUpdate(ctx, p, pwlen) == 1);
        ok = ok && ((r & 1) ? EVP_DigestUpdate(ctx, a, 32) : EVP_DigestUpdate(ctx, p, pwlen)) == 1;
        ok = ok && EVP_DigestFinal_ex(ctx, a, NULL) == 1;
        if (!ok) goto fail;
    }

    for (int i = 0; i < 10; i++)
        o = auth_b64_24(o, a[perm[i][0]], a[perm[i][1]], a[perm[i][2]], 4);
    auth_b64_24(o, 0, a[31], a[30], 3);
    rc = 0;
fail:
    OPENSSL_cleanse(a, sizeof(a));
    OPENSSL_cleanse(b, sizeof(b));
    OPENSSL_cleanse(dp, sizeof(dp));
    if (p != NULL) OPENSSL_clear_free(p, pwlen + 1);
    free(s);
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* The round count is in thousands, three digits. MySQL 8.0.x since its
 * mid-releases writes and parses them as uppercase hex ("%03X", max 0xFFF =
 * 4,095,000 rounds); early 8.0 used decimal. The default "005" reads the same
 * either way; anything else is taken as hex, as current servers do. */
bool auth_sha2_crypt_check(const char *stored, const char *pw, size_t pwlen)
{
    char digest[AUTH_CRYPT_DIGEST_LEN];
    unsigned kilo = 0;

    if (pwlen > AUTH_CRYPT_MAX_PW) return false;
    if (stored == NULL || strlen(stored) != AUTH_CRYPT_STORED_LEN ||
        memcmp(stored, "$A$", 3) != 0 || stored[6] != '$')
        return false;
    for (int i = 3; i < 6; i++) {
        int v = auth_hexval(stored[i]);
        if (v < 0) return false;
        kilo = kilo * 16 + (unsigned)v;
    }
    if (kilo == 0) return false;
    if (auth_sha256_crypt(pw, pwlen, (const uint8_t *)stored + AUTH_CRYPT_PREFIX_LEN,
                          AUTH_CRYPT_SALT_LEN, kilo * 1000, digest) != 0)
        return false;
    return CRYPTO_memcmp(digest, stored + AUTH_CRYPT_PREFIX_LEN + AUTH_CRYPT_SALT_LEN,
                         AUTH_CRYPT_DIGEST_LEN) == 0;
}

/* The salt travels inside a '$'-delimited C string, so NUL and '$' are refused
 * (MySQL bumps such bytes when it makes a salt). */
int auth_sha2_crypt_make(const char *pw, size_t pwlen, const uint8_t salt[20], char *out,
                         size_t outlen)
{
    if (outlen < AUTH_CRYPT_STORED_LEN + 1 || pwlen > AUTH_CRYPT_MAX_PW) return -1;
    for (int i = 0; i < AUTH_CRYPT_SALT_LEN; i++)
        if (salt[i] == '\0' || salt[i] == '$') return -1;
    memcpy(out, "$A$005$", AUTH_CRYPT_PREFIX_LEN);
    memcpy(out + AUTH_CRYPT_PREFIX_LEN, salt, AUTH_CRYPT_SALT_LEN);
    if (auth_sha256_crypt(pw, pwlen, salt, AUTH_CRYPT_SALT_LEN, 5000,
                          out + AUTH_CRYPT_PREFIX_LEN + AUTH_CRYPT_SALT_LEN) != 0)
        return -1;
    out[AUTH_CRYPT_STORED_LEN] = '\0';
    return 0;
}

/* ---- RSA exchange ---- */

/* Failures here clear the thread's OpenSSL error queue: a bad key or ciphertext
 * from a peer would otherwise leave entries that SSL_get_error() on the next
 * TLS call reads as its own. */

static void auth_xor_nonce(uint8_t *buf, size_t len, const uint8_t nonce[20])
{
    for (size_t i = 0; i < len; i++)
        buf[i] ^= nonce[i % AUTH_NONCE_LEN];
}

/* Reads a public key in either SubjectPublicKeyInfo ("BEGIN PUBLIC KEY", what
 * MySQL sends) or PKCS#1 ("BEGIN RSA PUBLIC KEY") PEM form. */
static EVP_PKEY *auth_rsa_read_pubkey(const char *pem, size_t pemlen)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx;
    const unsigned char *data = (const unsigned char *)pem;
    size_t datalen = pemlen;

    dctx =
        OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, "RSA", EVP_PKEY_PUBLIC_KEY, NULL, NULL);
    if (dctx == NULL) return NULL;
    if (OSSL_DECODER_from_data(dctx, &data, &datalen) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    OSSL_DECODER_CTX_free(dctx);
    return pkey;
}

int auth_rsa_encrypt_password(const char *pem, size_t pemlen, const char *pw, size_t pwlen,
                              const uint8_t nonce[20], uint8_t *out, size_t outcap)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *plain = NULL;
    size_t outlen = outcap;
    int rc = -1;

    /* The bound only keeps pwlen + 1 sane; OAEP itself limits a 2048-bit key to 213. */
    if (pem == NULL || pemlen == 0 || pwlen > 1024) goto fail;
    pkey = auth_rsa_read_pubkey(pem, pemlen);
    if (pkey == NULL) goto fail;
    plain = malloc(pwlen + 1);
    if (plain == NULL) goto fail;
    memcpy(plain, pw, pwlen);
    plain[pwlen] = '\0';
    auth_xor_nonce(plain, pwlen + 1, nonce);

    ctx = EVP_PKEY_CTX_new(pkey, NULL);
    if (ctx == NULL || EVP_PKEY_encrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1)
        goto fail;
    if ((size_t)EVP_PKEY_get_size(pkey) > outcap) goto fail;
    if (EVP_PKEY_encrypt(ctx, out, &outlen, plain, pwlen + 1) != 1 || outlen > (size_t)INT32_MAX)
        goto fail;
    rc = (int)outlen;
fail:
    if (rc < 0) ERR_clear_error();
    if (plain != NULL) OPENSSL_clear_free(plain, pwlen + 1);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rc;
}

int auth_rsa_init(void)
{
    BIO *bio = NULL;
    char *data;
    long len;

    if (auth_rsa_key != NULL) return 0;
    auth_rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)AUTH_RSA_BITS);
    if (auth_rsa_key == NULL) goto fail;
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_PUBKEY(bio, auth_rsa_key) != 1) goto fail;
    len = BIO_get_mem_data(bio, &data);
    if (len <= 0) goto fail;
    auth_rsa_pem = malloc((size_t)len + 1);
    if (auth_rsa_pem == NULL) goto fail;
    memcpy(auth_rsa_pem, data, (size_t)len);
    auth_rsa_pem[len] = '\0';
    auth_rsa_pem_len = (size_t)len;
    BIO_free(bio);
    return 0;
fail:
    ERR_clear_error();
    BIO_free(bio);
    auth_rsa_cleanup();
    return -1;
}

const char *auth_rsa_public_pem(size_t *len)
{
    if (len != NULL) *len = auth_rsa_pem != NULL ? auth_rsa_pem_len : 0;
    return auth_rsa_pem;
}

/* The client encrypted (pw + NUL) XOR nonce; after undoing both, a missing
 * trailing NUL means a wrong nonce or a garbled block, so refuse it. */
int auth_rsa_decrypt_password(const uint8_t *in, size_t inlen, const uint8_t nonce[20], char *pw,
                              size_t pwcap)
{
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *plain = NULL;
    size_t plainlen = 0, cap = 0;
    int rc = -1;

    if (auth_rsa_key == NULL || in == NULL || inlen == 0) goto fail;
    ctx = EVP_PKEY_CTX_new(auth_rsa_key, NULL);
    if (ctx == NULL || EVP_PKEY_decrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_decrypt(ctx, NULL, &cap, in, inlen) != 1)
        goto fail;
    plain = malloc(cap);
    if (plain == NULL) goto fail;
    plainlen = cap;
    if (EVP_PKEY_decrypt(ctx, plain, &plainlen, in, inlen) != 1 || plainlen == 0) goto fail;
    auth_xor_nonce(plain, plainlen, nonce);
    if (plain[plainlen - 1] != '\0' || plainlen - 1 > pwcap) goto fail;
    memcpy(pw, plain, plainlen - 1);
    rc = (int)(plainlen - 1);
fail:
    if (rc < 0) ERR_clear_error();
    if (plain != NULL) OPENSSL_clear_free(plain, cap);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

void auth_rsa_cleanup(void)
{
    EVP_PKEY_free(auth_rsa_key);
    auth_rsa_key = NULL;
    free(auth_rsa_pem);
    auth_rsa_pem = NULL;
    auth_rsa_pem_len = 0;
}
