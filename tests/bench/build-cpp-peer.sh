#!/bin/bash
# Builds the C++ benchmark peer: aws-lambda-cpp and the minimal libcurl from the tarballs that
# npm aws-lambda-ric 3.3.0 bundles (node_modules/aws-lambda-ric/deps), the same configure flags
# as its scripts/preinstall.sh, then tests/bench/cpp-peer (a no-op handler). Everything goes
# under build/bench/cpp-peer/; nothing is vendored. Prints the bootstrap path on success.
# Two link variants of the same handler (issue 19: the dynamic one measures the loader):
#   dynamic  libaws-lambda-runtime.a and libcurl.a linked in; libstdc++, libgcc_s, libc, libm
#            from the system's shared libraries (cmake's default) -> handler-dynamic/bootstrap
#   static   `-static`: libstdc++, libgcc, glibc, libcurl and aws-lambda-cpp all linked in, no
#            interpreter (glibc warns that getaddrinfo would need its shared NSS modules at run
#            time; the Runtime API address is a numeric 127.0.0.1:port, resolved without NSS);
#            when -static does not link here, falls back to -static-libstdc++ -static-libgcc
#            (glibc dynamic) and says so on stderr -> handler-static/bootstrap
# Note: the package's postinstall.sh deletes deps/*.tar.gz under dash (its `[^gz]` glob is
# bash-only), keeping the unpacked trees; so either form is accepted here.
# Usage: tests/bench/build-cpp-peer.sh [repo-root] [dynamic|static]   (default dynamic)
set -euo pipefail
ROOT=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
DEPS="$ROOT/node_modules/aws-lambda-ric/deps"
VARIANT=${2:-dynamic}
case $VARIANT in dynamic|static) ;; *) echo "variant must be dynamic or static" >&2; exit 2;; esac
OUT="$ROOT/build/bench/cpp-peer"
BIN="$OUT/handler-$VARIANT/bootstrap"
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
[ -f "$DEPS/versions" ] || { echo "no $DEPS/versions (run npm ci first)" >&2; exit 1; }
command -v cmake >/dev/null || { echo "cmake is not installed" >&2; exit 1; }
. "$DEPS/versions"
ART="$OUT/artifacts"
SRC="$OUT/src"
JOBS=${JOBS:-2}
mkdir -p "$SRC" "$ART"
# s_unpack TARBALL DIR: the tarball when present, else a copy of the tree npm left unpacked.
s_unpack() {
    if [ -f "$DEPS/$1" ]; then
        tar xzf "$DEPS/$1" -C "$SRC" --no-same-owner
    elif [ -d "$DEPS/$2" ]; then
        cp -a "$DEPS/$2" "$SRC/$2"
    else
        echo "neither $DEPS/$1 nor $DEPS/$2 (run npm ci)" >&2
        exit 1
    fi
}
if [ ! -f "$ART/lib/libcurl.a" ]; then
    rm -rf "$SRC/curl-curl-$CURL_VERSION"
    s_unpack "curl-$CURL_VERSION.tar.gz" "curl-curl-$CURL_VERSION"
    (
        cd "$SRC/curl-curl-$CURL_VERSION"
        autoreconf -fi >/dev/null 2>&1
        ./configure --prefix "$ART" --disable-alt-svc --disable-ares --disable-cookies \
            --disable-crypto-auth --disable-dateparse --disable-dict --disable-dnsshuffle \
            --disable-doh --disable-file --disable-ftp --disable-get-easy-options --disable-gopher \
            --disable-hsts --disable-http-auth --disable-imap --disable-ipv6 --disable-ldap \
            --disable-ldaps --disable-libcurl-option --disable-manual --disable-mime --disable-mqtt \
            --disable-netrc --disable-ntlm-wb --disable-pop3 --disable-progress-meter --disable-proxy \
            --disable-pthreads --disable-rtsp --disable-shared --disable-smtp --disable-socketpair \
            --disable-sspi --disable-telnet --disable-tftp --disable-threaded-resolver \
            --disable-unix-sockets --disable-verbose --disable-versioned-symbols --with-pic \
            --without-brotli --without-ca-bundle --without-gssapi --without-libidn2 --without-libpsl \
            --without-librtmp --without-libssh2 --without-nghttp2 --without-nghttp3 --without-ngtcp2 \
            --without-ssl --without-zlib --without-zstd >/dev/null
        make -j"$JOBS" >/dev/null
        make install >/dev/null
    )
fi
if [ ! -f "$ART/lib/libaws-lambda-runtime.a" ] && [ ! -f "$ART/lib64/libaws-lambda-runtime.a" ]; then
    rm -rf "$SRC/aws-lambda-cpp-$AWS_LAMBDA_CPP_RELEASE"
    s_unpack "aws-lambda-cpp-$AWS_LAMBDA_CPP_RELEASE.tar.gz" "aws-lambda-cpp-$AWS_LAMBDA_CPP_RELEASE"
    rm -rf "$SRC/aws-lambda-cpp-$AWS_LAMBDA_CPP_RELEASE/build"
    cmake -S "$SRC/aws-lambda-cpp-$AWS_LAMBDA_CPP_RELEASE" -B "$SRC/aws-lambda-cpp-build" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="-fPIC" -DCMAKE_INSTALL_PREFIX="$ART" \
        -DCMAKE_PREFIX_PATH="$ART" -DBUILD_SHARED_LIBS=OFF >/dev/null
    cmake --build "$SRC/aws-lambda-cpp-build" -j "$JOBS" >/dev/null
    cmake --install "$SRC/aws-lambda-cpp-build" >/dev/null
fi
# s_handler LDFLAGS: configures and builds the handler into $OUT/handler-$VARIANT.
s_handler() {
    rm -rf "$OUT/handler-$VARIANT"
    cmake -S "$ROOT/tests/bench/cpp-peer" -B "$OUT/handler-$VARIANT" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$ART" -DCMAKE_EXE_LINKER_FLAGS="$1" >/dev/null &&
        cmake --build "$OUT/handler-$VARIANT" -j "$JOBS" >/dev/null
}
if [ "$VARIANT" = dynamic ]; then
    s_handler ""
elif ! s_handler "-static" 2>"$OUT/static-link.log"; then
    echo "cpp peer: -static did not link (see $OUT/static-link.log); using -static-libstdc++ -static-libgcc, glibc dynamic" >&2
    s_handler "-static-libstdc++ -static-libgcc"
fi
[ -x "$BIN" ] || { echo "build produced no $BIN" >&2; exit 1; }
echo "$BIN"
