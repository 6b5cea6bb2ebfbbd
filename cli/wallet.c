/*
 * cli/wallet.c — `agentkeys wallet new|import|address` and the K10 key loader (cli/wallet.h).
 *
 * Files: `wallet new` and `wallet import` write <config dir>/wallets/<address>.json (keystore v3,
 * scrypt N=2^18 r=8 p=1 like geth; --light for N=2^12 p=6) or <address>.key with --plain, mode
 * 0600, atomically and never over an existing file, and record the path as the profile's
 * `wallet` when it has none yet (or with --force). Secrets (keys, passwords) never reach argv,
 * stdout, stderr or any file but the wallet itself; buffers that held them are wiped.
 */
#include "wallet.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/keystore.h"
#include "ak/scrypt.h"

#define S_MAX_KEY_FILE AK_KEYSTORE_MAX_JSON
#define S_MAX_PASSWORD AK_KEYSTORE_MAX_PASSWORD

void akcli_address_checksum(const uint8_t addr[20], char out[43]) {
    /* EIP-55: hash the lowercase hex; a letter is upper case when its hash nibble is >= 8 */
    char hex[41];
    uint8_t h[32];
    ak_hex_encode(addr, 20, hex);
    ak_keccak256(hex, 40, h);
    out[0] = '0', out[1] = 'x';
    for (int i = 0; i < 40; i++) {
        int nib = (i % 2 == 0) ? h[i / 2] >> 4 : h[i / 2] & 0x0f;
        char ch = hex[i];
        out[2 + i] = (ch >= 'a' && ch <= 'f' && nib >= 8) ? (char)(ch - 'a' + 'A') : ch;
    }
    out[42] = '\0';
}

/* ------------------------------------------------------------------ passwords */

/* The terminal state to restore if a signal arrives while echo is off. */
static struct termios s_saved_tio;
static volatile sig_atomic_t s_tio_fd = -1;

static void s_restore_on_signal(int sig) {
    if (s_tio_fd >= 0) (void)tcsetattr(s_tio_fd, TCSAFLUSH, &s_saved_tio);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Prompts on /dev/tty with echo off; appends the line (without its newline) to pw.
 * Returns 0, or -1 when there is no terminal, -2 on a read error or over-long input. */
static int s_tty_read(const char *prompt, ak_buf *pw) {
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = 0;
    bool restore = false;
    struct sigaction sa, old_int, old_term, old_hup;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_restore_on_signal;
    sigemptyset(&sa.sa_mask);
    if (tcgetattr(fd, &s_saved_tio) == 0) {
        struct termios t = s_saved_tio;
        t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
        t.c_lflag |= ECHONL;
        s_tio_fd = fd;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        sigaction(SIGHUP, &sa, &old_hup);
        if (tcsetattr(fd, TCSAFLUSH, &t) == 0) restore = true;
    }
    if (write(fd, prompt, strlen(prompt)) < 0) rc = -2;
    for (;;) {
        uint8_t ch;
        ssize_t r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || ch == '\n') break;
        if (ch == '\r') continue;
        if (ak_buf_append_byte(pw, ch) != AK_OK) {
            rc = -2;
            break;
        }
    }
    if (restore) (void)tcsetattr(fd, TCSAFLUSH, &s_saved_tio);
    if (s_tio_fd >= 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGHUP, &old_hup, NULL);
        s_tio_fd = -1;
    }
    if (!restore && write(fd, "\n", 1) < 0) rc = -2;
    close(fd);
    return rc;
}

/* The keystore password: password_file setting, else the terminal (twice when `confirm`).
 * `what` names the file in the prompt. Returns an AKCLI_* code (after printing the reason). */
static int s_password(akcli *c, const char *what, bool confirm, ak_buf *pw) {
    const char *pf = akcli_conf(c, "password_file");
    if (pf) {
        ak_err e = ak_buf_append_file(pw, pf);
        if (e != AK_OK)
            return akcli_fail(c, AKCLI_ERR, "password_file_unreadable",
                              "cannot read the password file %s (password_file setting)%s", pf,
                              e == AK_E_LIMIT ? ": too long" : "");
        /* trailing white space is not part of the password: what cast's --password-file does
         * (trim_end), so one password file serves both tools */
        while (pw->len > 0 && strchr(" \t\r\n\v\f", pw->ptr[pw->len - 1]) != NULL &&
               pw->ptr[pw->len - 1] != 0)
            pw->len--;
        return AKCLI_OK;
    }
    char prompt[1200];
    snprintf(prompt, sizeof prompt, "Password for %s: ", what);
    int r = s_tty_read(prompt, pw);
    if (r == -1)
        return akcli_fail(
            c, AKCLI_ERR, "password_required",
            "%s needs a password: set password_file in the profile (or AGENTKEYS_PASSWORD_FILE), or "
            "run on a terminal",
            what);
    if (r != 0)
        return akcli_fail(c, AKCLI_ERR, "password_required", "could not read the password from the terminal");
    if (!confirm) return AKCLI_OK;
    ak_buf again;
    ak_buf_init_secret(&again, S_MAX_PASSWORD);
    r = s_tty_read("Repeat the password: ", &again);
    bool same = r == 0 && ak_ct_eq_len(pw->ptr ? pw->ptr : (const uint8_t *)"", pw->len,
                                       again.ptr ? again.ptr : (const uint8_t *)"", again.len);
    ak_buf_free(&again);
    if (!same) return akcli_fail(c, AKCLI_USAGE, "password_mismatch", "the two passwords differ");
    return AKCLI_OK;
}

/* ------------------------------------------------------------------ loading */

/* "~/x" -> "$HOME/x"; anything else as is. */
static void s_expand(const char *path, char *out, size_t cap) {
    const char *home = getenv("HOME");
    if (path[0] == '~' && path[1] == '/' && home && *home)
        snprintf(out, cap, "%s/%s", home, path + 2);
    else
        snprintf(out, cap, "%s", path);
}

static bool s_is_keystore(ak_cur text) {
    ak_cur t = ak_cur_trim(text);
    return t.len > 0 && t.ptr[0] == '{';
}

/* Plain key text: 64 hex characters, optional 0x, surrounding white space. */
static ak_err s_parse_hex_key(ak_cur text, uint8_t key[32], uint8_t addr[20]) {
    uint8_t pub[65];
    AK_GUARD(ak_hex_decode_exact(ak_cur_trim(text), true, key, 32));
    ak_err e = ak_secp256k1_pubkey(key, pub);
    if (e != AK_OK) {
        ak_wipe(key, 32);
        return e;
    }
    ak_eth_address_from_pub(pub, addr);
    return AK_OK;
}

/* Reads a whole file through an open descriptor (so the fstat below is of the same file). */
static ak_err s_read_fd(int fd, ak_buf *out) {
    uint8_t chunk[4096];
    ak_err rc = AK_OK;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = AK_E_IO;
            break;
        }
        if (r == 0) break;
        rc = ak_buf_append(out, chunk, (size_t)r);
        if (rc != AK_OK) break;
    }
    ak_wipe(chunk, sizeof chunk);
    return rc;
}

int akcli_wallet_load_file(akcli *c, const char *path_in, uint8_t key[32], uint8_t addr_out[20]) {
    char path[PATH_MAX];
    uint8_t addr[20];
    ak_buf text, pw;
    int code = AKCLI_OK;
    int fd = -1;
    struct stat st;
    memset(key, 0, 32);
    ak_buf_init_secret(&text, S_MAX_KEY_FILE);
    ak_buf_init_secret(&pw, S_MAX_PASSWORD);
    s_expand(path_in, path, sizeof path);

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int en = errno;
        code = akcli_fail(c, en == ENOENT ? AKCLI_NOT_FOUND : AKCLI_ERR, "wallet_unreadable",
                          "cannot open the wallet file %s: %s", path, strerror(en));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        code = akcli_fail(c, AKCLI_ERR, "wallet_unreadable", "the wallet %s is not a regular file", path);
        goto out;
    }
    ak_err e = s_read_fd(fd, &text);
    if (e != AK_OK) {
        code = akcli_fail(c, AKCLI_ERR, e == AK_E_LIMIT ? "keystore_invalid" : "wallet_unreadable",
                          "cannot read the wallet file %s%s", path,
                          e == AK_E_LIMIT ? ": too large for a key file" : "");
        goto out;
    }
    if (s_is_keystore(ak_buf_cur(&text))) {
        /* the whole file is checked (and its KDF cost bounded) before anyone is asked for a
         * password */
        ak_keystore_parsed ks;
        e = ak_keystore_parse(ak_buf_cur(&text), &ks);
        if (e == AK_E_KDF_PARAMS) {
            code = akcli_fail(
                c, AKCLI_ERR, ak_err_reason(e),
                "the keystore %s asks for key derivation parameters outside what agentkeys accepts "
                "(scrypt: N a power of 2 up to 2^20, r <= %u, p <= %u, 128*r*N <= %u MiB, N*r*p <= 2^24; "
                "pbkdf2: c <= 2^24; dklen 32..64)",
                path, AK_SCRYPT_MAX_R, AK_SCRYPT_MAX_P, AK_SCRYPT_MAX_MEM >> 20);
            goto out;
        }
        if (e != AK_OK) {
            code = akcli_fail_err(c, e, "cannot use the keystore %s", path);
            goto out;
        }
        code = s_password(c, path, false, &pw);
        if (code != AKCLI_OK) goto out;
        e = ak_keystore_open(&ks, ak_buf_cur(&pw), key, addr);
        if (e == AK_E_KEYSTORE_MAC) {
            code = akcli_fail(c, akcli_code_for(e), ak_err_reason(e),
                              "wrong password for the keystore %s (or the file was modified)", path);
            goto out;
        }
        if (e != AK_OK) {
            code = akcli_fail_err(c, e, "cannot use the keystore %s", path);
            goto out;
        }
    } else {
        /* ssh's rule for private keys (sshkey_perm_ok): owned by us, nobody else may read or
         * write it. A keystore is encrypted and needs no such rule. */
        if ((st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
            if (!akcli_json(c) && (st.st_mode & 077) != 0)
                fprintf(stderr, "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
                                "@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @\n"
                                "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n");
            if ((st.st_mode & 077) != 0)
                code = akcli_fail(
                    c, AKCLI_ERR, "key_file_permissions",
                    "permissions %04o for '%s' are too open: a plain key file must not be accessible "
                    "by others (chmod 600 '%s'), so it is ignored",
                    (unsigned)(st.st_mode & 07777), path, path);
            else
                code =
                    akcli_fail(c, AKCLI_ERR, "key_file_permissions",
                               "the key file '%s' is owned by uid %u, not by you (uid %u), so it is ignored",
                               path, (unsigned)st.st_uid, (unsigned)geteuid());
            goto out;
        }
        e = s_parse_hex_key(ak_buf_cur(&text), key, addr);
        if (e != AK_OK) {
            code =
                akcli_fail(c, AKCLI_ERR, e == AK_E_BAD_KEY ? "bad_key" : "bad_hex",
                           "the key file %s does not hold a secp256k1 private key (64 hex characters)", path);
            goto out;
        }
    }
    if (addr_out) memcpy(addr_out, addr, 20);
out:
    if (code != AKCLI_OK) ak_wipe(key, 32);
    if (fd >= 0) close(fd);
    ak_buf_free(&text);
    ak_buf_free(&pw);
    return code;
}

int akcli_wallet_load(akcli *c, uint8_t key[32]) {
    memset(key, 0, 32);
    const char *w = akcli_conf(c, "wallet");
    if (w == NULL)
        return akcli_fail(
            c, AKCLI_ERR, "wallet_not_configured",
            "profile '%s' has no wallet: run `agentkeys wallet new` or `agentkeys wallet import`, or set "
            "AGENTKEYS_WALLET",
            c->profile);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", w); /* akcli_conf's buffer is reused by the next call */
    return akcli_wallet_load_file(c, path, key, NULL);
}

/* ------------------------------------------------------------------ storing */

typedef struct s_opts {
    const char *out;
    const char *key_file;
    const char *keystore;
    bool plain, light, force;
} s_opts;

/* Parses the flags a wallet command allows (`allowed`: a string of option letters below). */
static int s_parse(akcli *c, int argc, char **argv, const char *allowed, s_opts *o) {
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **val = NULL;
        char letter = 0;
        if (strcmp(a, "--out") == 0)
            val = &o->out, letter = 'o';
        else if (strcmp(a, "--key-file") == 0)
            val = &o->key_file, letter = 'k';
        else if (strcmp(a, "--keystore") == 0)
            val = &o->keystore, letter = 's';
        else if (strcmp(a, "--plain") == 0)
            o->plain = true, letter = 'p';
        else if (strcmp(a, "--light") == 0)
            o->light = true, letter = 'l';
        else if (strcmp(a, "--force") == 0)
            o->force = true, letter = 'f';
        if (letter == 0 || strchr(allowed, letter) == NULL) return akcli_usage(c, "unknown argument '%s'", a);
        if (val) {
            if (i + 1 >= argc || argv[i + 1][0] == '\0') return akcli_usage(c, "%s needs a value", a);
            *val = argv[++i];
        }
    }
    return AKCLI_OK;
}

static bool s_light(akcli *c, const s_opts *o) {
    if (o->light) return true;
    const char *v = akcli_conf(c, "keystore_light"); /* AGENTKEYS_KEYSTORE_LIGHT=1, for tests */
    return v && strcmp(v, "1") == 0;
}

/* Writes the wallet file and records it; `keystore_text` (may be empty) is stored as is,
 * otherwise the key is encrypted (or written in hex with --plain). */
static int s_store(akcli *c, const uint8_t key[32], const uint8_t addr[20], const s_opts *o,
                   ak_cur keystore_text) {
    char path[PATH_MAX], abs[PATH_MAX], addr_text[43], current[PATH_MAX] = "";
    ak_buf data, pw;
    int code = AKCLI_OK;
    ak_keystore_params prm = s_light(c, o) ? ak_keystore_params_light() : ak_keystore_params_standard();
    ak_buf_init_secret(&data, S_MAX_KEY_FILE);
    ak_buf_init_secret(&pw, S_MAX_PASSWORD);
    akcli_address_checksum(addr, addr_text);

    const char *cur = akcli_conf(c, "wallet");
    if (cur) snprintf(current, sizeof current, "%s", cur);
    bool record = current[0] == '\0' || o->force;
    if (!record && o->out == NULL) {
        code = akcli_fail(
            c, AKCLI_ERR, "wallet_exists",
            "profile '%s' already has a wallet (%s): pass --force to make the new key its wallet (the "
            "old file is kept), or --out FILE to only write a file",
            c->profile, current);
        goto out;
    }
    if (o->out) {
        s_expand(o->out, path, sizeof path);
    } else {
        char dir[PATH_MAX - 64];
        snprintf(dir, sizeof dir, "%s/wallets", akcli_config_dir(c));
        if (akcli_mkdir_p(dir, 0700) != AK_OK) {
            code = akcli_fail(c, AKCLI_ERR, "io_error", "cannot create %s", dir);
            goto out;
        }
        snprintf(path, sizeof path, "%s/%s.%s", dir, addr_text, o->plain ? "key" : "json");
    }

    ak_err e = AK_OK;
    if (o->plain) {
        char hex[65];
        ak_hex_encode(key, 32, hex);
        e = ak_buf_printf(&data, "0x%s\n", hex);
        ak_wipe(hex, sizeof hex);
    } else if (keystore_text.len > 0) {
        e = ak_buf_append_cur(&data, keystore_text);
    } else {
        code = s_password(c, path, true, &pw);
        if (code != AKCLI_OK) goto out;
        e = ak_keystore_encrypt(key, ak_buf_cur(&pw), &prm, &data);
        if (e == AK_OK) e = ak_buf_append_byte(&data, '\n');
    }
    if (e != AK_OK) {
        code = akcli_fail_err(c, e, "cannot build the wallet file");
        goto out;
    }
    e = ak_keystore_write_file(path, ak_buf_cur(&data), false);
    if (e == AK_E_PRECONDITION_FAILED) {
        code = akcli_fail(c, AKCLI_ERR, "file_exists", "%s already exists; a key file is never overwritten",
                          path);
        goto out;
    }
    if (e != AK_OK) {
        code = akcli_fail(c, AKCLI_ERR, "io_error", "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    if (realpath(path, abs) == NULL) snprintf(abs, sizeof abs, "%s", path);
    if (record) {
        e = akcli_conf_set(c, "wallet", abs);
        if (e != AK_OK) {
            code = akcli_fail_err(c, e, "wrote %s but could not record it as profile '%s''s wallet", abs,
                                  c->profile);
            goto out;
        }
    }
    const char *format = o->plain ? "plain" : "keystore-v3";
    if (akcli_json(c)) {
        printf("{\"address\":\"%s\",\"path\":", addr_text);
        akcli_json_str(stdout, ak_cur_from_str(abs));
        printf(",\"format\":\"%s\",\"profile\":", format);
        akcli_json_str(stdout, ak_cur_from_str(c->profile));
        printf(",\"profile_wallet\":%s}\n", record ? "true" : "false");
    } else {
        printf("%s\n", addr_text);
        if (o->plain || keystore_text.len > 0)
            akcli_note(c, "wrote %s (%s, mode 0600)", abs, format);
        else
            akcli_note(c, "wrote %s (keystore v3, scrypt N=%u r=%u p=%u, mode 0600)", abs, (unsigned)prm.n,
                       (unsigned)prm.r, (unsigned)prm.p);
        if (record)
            akcli_note(c, "profile '%s' now uses this wallet", c->profile);
        else
            akcli_note(c, "profile '%s' keeps its wallet %s (--force to switch)", c->profile, current);
    }
out:
    ak_buf_free(&data);
    ak_buf_free(&pw);
    return code;
}

/* ------------------------------------------------------------------ commands */

static int s_new(akcli *c, int argc, char **argv) {
    s_opts o;
    int code = s_parse(c, argc, argv, "oplf", &o);
    if (code != AKCLI_OK) return code;
    uint8_t key[32], pub[65], addr[20];
    ak_err e = AK_E_BAD_KEY;
    /* a random 32-byte string is a valid scalar except with probability ~2^-128 */
    for (int tries = 0; tries < 8 && e == AK_E_BAD_KEY; tries++) {
        if (ak_random(key, sizeof key) != AK_OK)
            return akcli_fail(c, AKCLI_ERR, "internal", "the OS CSPRNG failed");
        e = ak_secp256k1_pubkey(key, pub);
    }
    if (e != AK_OK) {
        ak_wipe(key, sizeof key);
        return akcli_fail_err(c, e, "cannot create a key");
    }
    ak_eth_address_from_pub(pub, addr);
    code = s_store(c, key, addr, &o, (ak_cur){0});
    ak_wipe(key, sizeof key);
    return code;
}

static int s_import(akcli *c, int argc, char **argv) {
    s_opts o;
    int code = s_parse(c, argc, argv, "oksplf", &o);
    if (code != AKCLI_OK) return code;
    if ((o.key_file == NULL) == (o.keystore == NULL))
        return akcli_usage(c,
                           "give exactly one of --key-file FILE (hex key; - for stdin) or --keystore FILE");
    uint8_t key[32], addr[20];
    ak_buf text;
    ak_buf_init_secret(&text, S_MAX_KEY_FILE);
    if (o.key_file) {
        const char *src = strcmp(o.key_file, "-") == 0 ? NULL : o.key_file;
        ak_err e = akcli_read_input(src, &text);
        if (e != AK_OK) {
            code = akcli_fail(c, AKCLI_ERR, "io_error", "cannot read the key from %s", src ? src : "stdin");
            goto out;
        }
        e = s_parse_hex_key(ak_buf_cur(&text), key, addr);
        if (e != AK_OK) {
            code = akcli_fail(c, AKCLI_ERR, e == AK_E_BAD_KEY ? "bad_key" : "bad_hex",
                              "%s does not hold a secp256k1 private key (64 hex characters, optional 0x)",
                              src ? src : "stdin");
            goto out;
        }
        code = s_store(c, key, addr, &o, (ak_cur){0});
    } else {
        /* check it opens (password and all) before copying it unchanged: same password, same file
         * cast and geth read */
        code = akcli_wallet_load_file(c, o.keystore, key, addr);
        if (code != AKCLI_OK) goto out;
        char path[PATH_MAX];
        s_expand(o.keystore, path, sizeof path);
        if (ak_buf_append_file(&text, path) != AK_OK || !s_is_keystore(ak_buf_cur(&text))) {
            code = akcli_fail(c, AKCLI_ERR, "keystore_invalid", "%s is not a keystore v3 file", path);
            goto out;
        }
        if (o.light)
            akcli_note(c, "--light ignored: the keystore is copied with its own parameters and password");
        code = s_store(c, key, addr, &o, o.plain ? (ak_cur){0} : ak_buf_cur(&text));
    }
out:
    ak_wipe(key, sizeof key);
    ak_buf_free(&text);
    return code;
}

static int s_address(akcli *c, int argc, char **argv) {
    s_opts o;
    int code = s_parse(c, argc, argv, "ks", &o);
    if (code != AKCLI_OK) return code;
    if (o.key_file && o.keystore) return akcli_usage(c, "give at most one of --key-file or --keystore");
    char path[PATH_MAX];
    const char *file = o.key_file ? o.key_file : o.keystore;
    if (file == NULL) {
        const char *w = akcli_conf(c, "wallet");
        if (w == NULL)
            return akcli_fail(
                c, AKCLI_ERR, "wallet_not_configured",
                "profile '%s' has no wallet: run `agentkeys wallet new`, or give --keystore FILE",
                c->profile);
        file = w;
    }
    snprintf(path, sizeof path, "%s", file);
    uint8_t key[32], addr[20];
    code = akcli_wallet_load_file(c, path, key, addr);
    ak_wipe(key, sizeof key);
    if (code != AKCLI_OK) return code;
    char text[43];
    akcli_address_checksum(addr, text);
    if (akcli_json(c)) {
        printf("{\"address\":\"%s\",\"wallet\":", text);
        akcli_json_str(stdout, ak_cur_from_str(path));
        printf("}\n");
    } else {
        printf("%s\n", text);
    }
    return AKCLI_OK;
}

const akcli_cmd akcli_wallet_cmds[] = {
    {"wallet new", "[--out FILE] [--plain] [--light] [--force]",
     "create a K10 key (keystore v3, or 0600 hex with --plain) as the profile's wallet", s_new},
    {"wallet import", "(--key-file FILE|- | --keystore FILE) [--out FILE] [--plain] [--light] [--force]",
     "store an existing key (hex file or stdin; or a cast/geth keystore) as the profile's wallet", s_import},
    {"wallet address", "[--keystore FILE | --key-file FILE]",
     "print the wallet's address (decrypts it, so checks the password)", s_address},
    {0},
};
