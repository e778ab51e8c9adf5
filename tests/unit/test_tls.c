/* TLS engine tests: a server engine and a client engine talk through memory
 * only (no sockets): handshake, data both ways, ciphertext fed in fragments of
 * every small size, session resumption on the backend side, version limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/config.h"
#include "core/tls.h"

static char cert_path[64], key_path[64];

/* A self-signed certificate and its key in temporary files. */
static int make_cert(void **state)
{
    (void)state;
    EVP_PKEY *pk = EVP_RSA_gen(2048);
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 77);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_sign(x, pk, EVP_sha256());
    snprintf(cert_path, sizeof cert_path, "/tmp/mymux-tls-test-%d.pem", (int)getpid());
    snprintf(key_path, sizeof key_path, "/tmp/mymux-tls-test-%d.key", (int)getpid());
    FILE *f = fopen(cert_path, "w");
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key_path, "w");
    PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(pk);
    return 0;
}

static int remove_cert(void **state)
{
    (void)state;
    unlink(cert_path);
    unlink(key_path);
    tls_cleanup();
    return 0;
}

static SSL_CTX *server_ctx(const char *minv, const char *maxv)
{
    struct mx_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.tls_cert = cert_path;
    cfg.tls_key = key_path;
    cfg.tls_min_version = (char *)minv;
    cfg.tls_max_version = (char *)maxv;
    char err[256];
    SSL_CTX *c = tls_server_ctx_new(&cfg, err, sizeof err);
    if (!c) fprintf(stderr, "server ctx: %s\n", err);
    assert_non_null(c);
    return c;
}

/* Moves all ciphertext from a to b, in pieces of at most frag bytes. */
static size_t shuttle(struct mx_tls *a, struct mx_tls *b, size_t frag)
{
    uint8_t buf[70000];
    size_t moved = 0, n;
    while ((n = tls_take(a, buf, sizeof buf)) > 0) {
        for (size_t off = 0; off < n; off += frag) {
            size_t k = n - off < frag ? n - off : frag;
            assert_int_equal(tls_feed(b, buf + off, k), TLS_OK);
        }
        moved += n;
    }
    return moved;
}

static void handshake(struct mx_tls *srv, struct mx_tls *cli, size_t frag, int expect)
{
    int rs = TLS_WANT, rc = TLS_WANT;
    for (int i = 0; i < 20 && (rs != TLS_OK || rc != TLS_OK); i++) {
        if (rc != TLS_OK) rc = tls_handshake(cli);
        shuttle(cli, srv, frag);
        if (rs != TLS_OK) rs = tls_handshake(srv);
        shuttle(srv, cli, frag);
        if (rs == TLS_ERR || rc == TLS_ERR) break;
    }
    if (expect == TLS_OK) {
        assert_int_equal(rc, TLS_OK);
        assert_int_equal(rs, TLS_OK);
    } else {
        assert_true(rs == TLS_ERR || rc == TLS_ERR);
    }
}

/* Sends n bytes from a to b through the engines (fragmented), checks them. */
static void transfer(struct mx_tls *a, struct mx_tls *b, size_t n, size_t frag)
{
    uint8_t *src = malloc(n), *dst = malloc(n);
    for (size_t i = 0; i < n; i++) src[i] = (uint8_t)(i * 131 + 7);
    size_t sent = 0, got = 0;
    while (got < n) {
        if (sent < n) {
            size_t took;
            size_t chunk = n - sent < 16384 ? n - sent : 16384;
            assert_int_equal(tls_write(a, src + sent, chunk, &took), TLS_OK);
            sent += took;
        }
        shuttle(a, b, frag);
        for (;;) {
            size_t g;
            int r = tls_read(b, dst + got, n - got, &g);
            if (r != TLS_OK) {
                assert_int_equal(r, TLS_WANT);
                break;
            }
            got += g;
        }
        shuttle(b, a, frag); /* anything b had to say (tickets, key updates) */
    }
    assert_memory_equal(src, dst, n);
    free(src);
    free(dst);
}

static void pair(SSL_CTX *sctx, SSL_CTX *cctx, struct mx_tls *srv, struct mx_tls *cli)
{
    assert_int_equal(tls_engine_init(srv, sctx, true), 0);
    assert_int_equal(tls_engine_init(cli, cctx, false), 0);
}

static SSL_CTX *client_ctx(int slot)
{
    struct mx_backend_tls_cfg bt = {.mode = MX_BTLS_REQUIRED};
    char err[256];
    SSL_CTX *c = tls_client_ctx_new(&bt, slot, err, sizeof err);
    assert_non_null(c);
    return c;
}

static void test_round_trip(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("TLSv1.2", NULL), *c = client_ctx(-1);
    struct mx_tls srv, cli;
    pair(s, c, &srv, &cli);
    handshake(&srv, &cli, 1 << 20, TLS_OK);
    transfer(&cli, &srv, 5, 1 << 20);
    transfer(&srv, &cli, 100000, 1 << 20);
    transfer(&cli, &srv, 3 * 16384 + 1, 1 << 20);
    /* close_notify reads as the end of the stream */
    tls_shutdown(&cli);
    shuttle(&cli, &srv, 1 << 20);
    uint8_t b[16];
    size_t g;
    assert_int_equal(tls_read(&srv, b, sizeof b, &g), TLS_EOF);
    tls_engine_free(&srv);
    tls_engine_free(&cli);
    SSL_CTX_free(s);
    SSL_CTX_free(c);
}

/* Records split at every small size, handshake included. */
static void test_fragmented(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("TLSv1.2", NULL), *c = client_ctx(-1);
    size_t frags[] = {1, 2, 3, 5, 7, 13, 100, 4096};
    for (size_t i = 0; i < sizeof frags / sizeof frags[0]; i++) {
        struct mx_tls srv, cli;
        pair(s, c, &srv, &cli);
        handshake(&srv, &cli, frags[i], TLS_OK);
        transfer(&cli, &srv, 20000, frags[i]);
        transfer(&srv, &cli, 40000, frags[i]);
        tls_engine_free(&srv);
        tls_engine_free(&cli);
    }
    SSL_CTX_free(s);
    SSL_CTX_free(c);
}

/* The backend side keeps the session it got and offers it on the next
 * connection to the same slot; the server resumes it (cache or ticket). */
static void resume(const char *maxv)
{
    SSL_CTX *s = server_ctx("TLSv1.2", maxv), *c = client_ctx(3);
    struct mx_backend_tls_cfg bt = {.mode = MX_BTLS_REQUIRED, .server_name = "localhost"};
    for (int round = 0; round < 3; round++) {
        struct mx_tls srv, cli;
        pair(s, c, &srv, &cli);
        assert_int_equal(tls_backend_prepare(&cli, &bt, 3), 0);
        handshake(&srv, &cli, 1 << 20, TLS_OK);
        transfer(&srv, &cli, 100, 1 << 20); /* the client reads TLS 1.3 tickets here */
        assert_int_equal(tls_session_reused(&cli), round > 0);
        assert_int_equal(tls_session_reused(&srv), round > 0);
        /* a connection freed without close_notify makes OpenSSL drop its
         * session (sock_close sends one) */
        tls_shutdown(&cli);
        tls_shutdown(&srv);
        tls_engine_free(&srv);
        tls_engine_free(&cli);
    }
    SSL_CTX_free(s);
    SSL_CTX_free(c);
}

static void test_resumption_tls13(void **state)
{
    (void)state;
    resume(NULL);
}

static void test_resumption_tls12(void **state)
{
    (void)state;
    resume("TLSv1.2");
}

/* A TLS 1.1 client: refused by default, accepted when min_version allows it
 * (security level 0, see tls.c). */
static void test_legacy_versions(void **state)
{
    (void)state;
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_security_level(c, 0);
    SSL_CTX_set_cipher_list(c, "DEFAULT:@SECLEVEL=0");
    SSL_CTX_set_min_proto_version(c, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_1_VERSION);
    struct mx_tls srv, cli;
    SSL_CTX *strict = server_ctx("TLSv1.2", NULL);
    pair(strict, c, &srv, &cli);
    handshake(&srv, &cli, 1 << 20, TLS_ERR);
    assert_true(srv.err[0] || cli.err[0]);
    tls_engine_free(&srv);
    tls_engine_free(&cli);
    SSL_CTX *legacy = server_ctx("TLSv1", NULL);
    pair(legacy, c, &srv, &cli);
    handshake(&srv, &cli, 1 << 20, TLS_OK);
    assert_int_equal(SSL_version(srv.ssl), TLS1_1_VERSION);
    transfer(&cli, &srv, 30000, 1000);
    tls_engine_free(&srv);
    tls_engine_free(&cli);
    SSL_CTX_free(strict);
    SSL_CTX_free(legacy);
    SSL_CTX_free(c);
}

/* A client that checks the name refuses a certificate for another one. */
static void test_identity(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("TLSv1.2", NULL);
    struct mx_backend_tls_cfg bt = {.mode = MX_BTLS_VERIFY_IDENTITY, .ca = cert_path,
                                    .server_name = "db.example.com"};
    char err[256];
    SSL_CTX *c = tls_client_ctx_new(&bt, -1, err, sizeof err);
    assert_non_null(c);
    struct mx_tls srv, cli;
    pair(s, c, &srv, &cli);
    assert_int_equal(tls_backend_prepare(&cli, &bt, -1), 0);
    handshake(&srv, &cli, 1 << 20, TLS_ERR);
    assert_non_null(strstr(cli.err, "certificate verify failed"));
    tls_engine_free(&srv);
    tls_engine_free(&cli);
    bt.server_name = "localhost"; /* the CN of the test certificate */
    pair(s, c, &srv, &cli);
    assert_int_equal(tls_backend_prepare(&cli, &bt, -1), 0);
    handshake(&srv, &cli, 1 << 20, TLS_OK);
    tls_engine_free(&srv);
    tls_engine_free(&cli);
    SSL_CTX_free(s);
    SSL_CTX_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),       cmocka_unit_test(test_fragmented),
        cmocka_unit_test(test_resumption_tls13), cmocka_unit_test(test_resumption_tls12),
        cmocka_unit_test(test_legacy_versions),  cmocka_unit_test(test_identity),
    };
    return cmocka_run_group_tests(tests, make_cert, remove_cert);
}
