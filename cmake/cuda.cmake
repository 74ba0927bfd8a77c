# cuda.cmake - POLYP_CUDA=ON|OFF|AUTO: the CUDA backend (native/cuda/*.cu + backend_cuda.c)
# into polyp_lib. Included from the top-level CMakeLists.txt after polyp_lib is defined.
#
# AUTO builds it when check_language(CUDA) finds nvcc and FindCUDAToolkit the runtime; ON
# without them stops the configure saying what to install. Code for Hopper only (sm_90 SASS
# + compute_90 PTX) keeps the nvcc time to seconds; cudart is linked statically, so a
# machine without the toolkit runs the binary (and, without a driver, falls back to the CPU).
set(POLYP_CUDA_BUILT OFF)
polyp_tristate(POLYP_CUDA)
if(POLYP_CUDA STREQUAL "OFF")
  return()
endif()

set(polyp_cuda_why "")
# The sanitizer and fuzz builds pass -fsanitize to every compiler, which nvcc refuses, and
# ASan's shadow memory clashes with the CUDA driver's mappings: those builds test the host
# side (cuda_plan.c) only.
if(POLYP_SANITIZE OR POLYP_FUZZ)
  if(POLYP_CUDA STREQUAL "ON")
    message(FATAL_ERROR "POLYP_CUDA=ON cannot be combined with POLYP_SANITIZE or POLYP_FUZZ "
                        "(nvcc takes no -fsanitize): configure the sanitizer build with -DPOLYP_CUDA=OFF or AUTO")
  endif()
  message(STATUS "polyp: CUDA not built in a sanitizer/fuzz build (the host-side checks still are)")
  return()
endif()
# A compiler path given on the command line that does not exist would make enable_language
# fail with CMake's own error: treat it as "not found" and say so in our words.
if(DEFINED CMAKE_CUDA_COMPILER AND NOT EXISTS "${CMAKE_CUDA_COMPILER}")
  set(polyp_cuda_why "CMAKE_CUDA_COMPILER=${CMAKE_CUDA_COMPILER} does not exist")
else()
  include(CheckLanguage)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    set(polyp_cuda_why "no CUDA compiler (nvcc) found")
  endif()
endif()
if(polyp_cuda_why STREQUAL "")
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90-real 90-virtual)
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit)
  if(NOT CUDAToolkit_FOUND OR NOT TARGET CUDA::cudart_static)
    set(polyp_cuda_why "nvcc found but not the CUDA runtime (FindCUDAToolkit: libcudart_static)")
  endif()
endif()

if(NOT polyp_cuda_why STREQUAL "")
  if(POLYP_CUDA STREQUAL "ON")
    message(FATAL_ERROR "POLYP_CUDA=ON but ${polyp_cuda_why}: install the CUDA toolkit (nvcc, cudart; "
                        "NVIDIA's cuda-toolkit package) and put nvcc on PATH or pass "
                        "-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc, or configure with -DPOLYP_CUDA=OFF")
  endif()
  message(STATUS "polyp: CUDA not built (${polyp_cuda_why}; -DPOLYP_CUDA=ON makes it required)")
  return()
endif()

target_sources(polyp_lib PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/native/cuda/backend_cuda.c
  ${CMAKE_CURRENT_SOURCE_DIR}/native/cuda/cuda_net.cu)
# polyp_lib was defined before enable_language(CUDA): its CUDA properties are set by hand.
set_target_properties(polyp_lib PROPERTIES
  CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}"
  CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON CUDA_VISIBILITY_PRESET hidden
  # cudart comes from the explicit CUDA::cudart_static below, recorded for polyp.pc.
  CUDA_RUNTIME_LIBRARY None)
# No fast-math: precision exact needs IEEE division, accurate expf and no TF32 (there is no
# TF32 here at all: every product is an fp32 fmaf).
target_compile_options(polyp_lib PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall>)
# nvcc's host stubs are C++ (thread-safe statics in the launch stubs, unwind tables): a C
# program linking libpolyp.a needs libstdc++ too, so it is on the interface (and polyp.pc).
target_link_libraries(polyp_lib PUBLIC CUDA::cudart_static stdc++)
target_compile_definitions(polyp_lib PUBLIC POLYP_HAVE_CUDA=1)
set(POLYP_CUDA_BUILT ON)
message(STATUS "polyp: CUDA backend enabled (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES})")
