# Third-party libraries, all from Debian's -dev packages (scripts/setup.sh installs them).
find_package(OpenMP REQUIRED)
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(Eigen3 3.3 REQUIRED NO_MODULE)

# OpenBLAS, OpenMP flavour (libopenblas-openmp-dev), so BLAS and our kernels share one pool.
find_path(OPENBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas-openmp openblas
          PATHS /usr/include/x86_64-linux-gnu REQUIRED NO_DEFAULT_PATH)
find_library(OPENBLAS_LIBRARY openblas PATH_SUFFIXES openblas-openmp
             PATHS /usr/lib/x86_64-linux-gnu REQUIRED NO_DEFAULT_PATH)
add_library(gearbox_blas INTERFACE)
target_include_directories(gearbox_blas SYSTEM INTERFACE ${OPENBLAS_INCLUDE_DIR})
target_link_libraries(gearbox_blas INTERFACE ${OPENBLAS_LIBRARY})

find_path(METIS_INCLUDE_DIR metis.h REQUIRED)
find_library(METIS_LIBRARY metis REQUIRED)
add_library(gearbox_metis INTERFACE)
target_include_directories(gearbox_metis SYSTEM INTERFACE ${METIS_INCLUDE_DIR})
target_link_libraries(gearbox_metis INTERFACE ${METIS_LIBRARY})

find_path(GLPK_INCLUDE_DIR glpk.h REQUIRED)
find_library(GLPK_LIBRARY glpk REQUIRED)
add_library(gearbox_glpk INTERFACE)
target_include_directories(gearbox_glpk SYSTEM INTERFACE ${GLPK_INCLUDE_DIR})
target_link_libraries(gearbox_glpk INTERFACE ${GLPK_LIBRARY})

# Debian builds cpp-httplib as a compiled library (libcpp-httplib.so), not header-only.
find_path(HTTPLIB_INCLUDE_DIR httplib.h REQUIRED)
find_library(HTTPLIB_LIBRARY cpp-httplib REQUIRED)
add_library(gearbox_httplib INTERFACE)
target_include_directories(gearbox_httplib SYSTEM INTERFACE ${HTTPLIB_INCLUDE_DIR})
target_link_libraries(gearbox_httplib INTERFACE ${HTTPLIB_LIBRARY} Threads::Threads)
