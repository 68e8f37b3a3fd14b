# Cross-compiling for linux-arm64 (glibc) on a Debian/Ubuntu x86-64 host, used by
# `npm run prebuild -- --arch arm64` (scripts/build-native.mjs passes it to cmake-js).
# Needs the cross compiler and the arm64 OpenBLAS through multiarch:
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install g++-aarch64-linux-gnu binutils-aarch64-linux-gnu libopenblas-dev:arm64
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_STRIP aarch64-linux-gnu-strip)
# Multiarch: arm64 libraries and headers live beside the host's, under
# /usr/lib/aarch64-linux-gnu and /usr/include/aarch64-linux-gnu; search those first.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# pkg-config must describe arm64 OpenBLAS, not the host's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
