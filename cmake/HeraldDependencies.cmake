# Every third-party dependency comes from Debian 12 packages (scripts/install-deps.sh).

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(date REQUIRED)
find_package(ICU REQUIRED COMPONENTS uc)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
# The herald executable allocates with jemalloc (docs/decisions/0025).
pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)

# libphonenumber ships no CMake package on Debian.
find_path(PHONENUMBER_INCLUDE_DIR phonenumbers/phonenumberutil.h REQUIRED)
find_library(PHONENUMBER_LIBRARY phonenumber REQUIRED)
find_library(GEOCODING_LIBRARY geocoding REQUIRED)
add_library(herald_libphonenumber INTERFACE)
target_include_directories(herald_libphonenumber SYSTEM INTERFACE ${PHONENUMBER_INCLUDE_DIR})
target_link_libraries(herald_libphonenumber INTERFACE ${GEOCODING_LIBRARY} ${PHONENUMBER_LIBRARY} ICU::uc)

# Boost.Asio/Beast are header-only here; this target carries the defines we want everywhere.
add_library(herald_asio INTERFACE)
target_link_libraries(herald_asio INTERFACE Boost::boost Threads::Threads)
target_compile_definitions(herald_asio INTERFACE BOOST_ASIO_NO_DEPRECATED BOOST_ASIO_DISABLE_BOOST_COROUTINE
                                                 BOOST_BEAST_USE_STD_STRING_VIEW)
# g++ 12 misreports Asio's coroutine frame allocator (operator new/delete pairs) as mismatched.
target_compile_options(herald_asio INTERFACE -Wno-mismatched-new-delete)
