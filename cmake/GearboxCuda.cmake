# CUDA is optional and automatic: compiled for sm_90 (H100/H200) plus PTX when nvcc is found.
set(GEARBOX_WITH_CUDA OFF)
if(GEARBOX_CUDA)
  include(CheckLanguage)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90) # "90" = sm_90 SASS + compute_90 PTX
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17) # CMake 3.25 knows no CUDA20 dialect for nvcc 13
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(GEARBOX_WITH_CUDA ON)
  endif()
endif()
message(STATUS "gearbox: CUDA build ${GEARBOX_WITH_CUDA}")
