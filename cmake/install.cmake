# install.cmake - the public library and what `cmake --install` puts in place (native only).
#
#   include/polyp.h
#   lib/libpolyp.so (+ soname links)   only the POLYP_API (polyp_) functions are exported
#   lib/libpolyp.a                     the same objects, for static linking
#   lib/pkgconfig/polyp.pc             pkg-config --cflags --libs [--static] polyp
#   lib/cmake/polyp/                   find_package(polyp CONFIG): polyp::polyp, polyp::polyp_static
#   share/polyp/testnet-bnstats.safetensors   input of polyp_testnet_build
#   bin/polyp                          the CLI
#
# Both public libraries are built from polyp_lib's objects (compiled once): polyp_lib itself is
# the internal archive the tests, the CLI and the fuzz targets link, whose include directories
# (core/, native/lib/) and compile definitions are for this source tree only, so it is not the
# target that gets exported. Included from the top-level CMakeLists.txt after polyp_lib and
# polyp_cli are defined.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Hidden by default: a function is exported only when polyp.h marks it POLYP_API. Static
# linking is unaffected (hidden symbols still resolve inside one link).
set_target_properties(polyp_lib PROPERTIES C_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)

set(POLYP_PUBLIC_INCLUDE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/core>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
# What polyp_lib links (libm, libjpeg, threads, XNNPACK...), read back so this file never
# keeps a second list that could drift from the core section.
get_target_property(POLYP_LINK_DEPS polyp_lib LINK_LIBRARIES)
get_target_property(POLYP_INTERFACE_DEPS polyp_lib INTERFACE_LINK_LIBRARIES)

# ABI: 0.x releases may break it at every minor version, so the soname carries major.minor.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(POLYP_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  set(POLYP_VERSION_COMPAT SameMinorVersion)
else()
  set(POLYP_SOVERSION ${PROJECT_VERSION_MAJOR})
  set(POLYP_VERSION_COMPAT SameMajorVersion)
endif()

add_library(polyp_shared SHARED $<TARGET_OBJECTS:polyp_lib>)
add_library(polyp::polyp ALIAS polyp_shared)
set_target_properties(polyp_shared PROPERTIES
  OUTPUT_NAME polyp EXPORT_NAME polyp
  VERSION ${PROJECT_VERSION} SOVERSION ${POLYP_SOVERSION})
target_include_directories(polyp_shared INTERFACE ${POLYP_PUBLIC_INCLUDE})
target_link_libraries(polyp_shared PRIVATE ${POLYP_LINK_DEPS})
if(POLYP_LIBJPEG)
  set(POLYP_CONFIG_JPEG "find_dependency(JPEG)")
else()
  set(POLYP_CONFIG_JPEG "")
endif()
if(TARGET CUDA::cudart_static)
  # cudart_static's own symbols have default visibility: keep them out of the exported set
  # (libpolyp.so exports the POLYP_API functions only).
  target_link_options(polyp_shared PRIVATE -Wl,--exclude-libs,libcudart_static.a)
  set(POLYP_CONFIG_CUDA "find_dependency(CUDAToolkit)")
else()
  set(POLYP_CONFIG_CUDA "")
endif()
if(NOT POLYP_SANITIZE AND NOT POLYP_FUZZ)
  # Every dependency recorded as NEEDED (clang's sanitizer runtimes are not linked into
  # shared objects, so not in those builds).
  target_link_options(polyp_shared PRIVATE -Wl,--no-undefined)
endif()

# The installed archive is a second copy of polyp_lib's (same objects, its own folder so the
# two libpolyp.a never collide) with an interface that makes sense outside this tree.
add_library(polyp_static STATIC $<TARGET_OBJECTS:polyp_lib>)
add_library(polyp::polyp_static ALIAS polyp_static)
set_target_properties(polyp_static PROPERTIES
  OUTPUT_NAME polyp EXPORT_NAME polyp_static
  ARCHIVE_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/public)
target_include_directories(polyp_static INTERFACE ${POLYP_PUBLIC_INCLUDE})
set_property(TARGET polyp_static PROPERTY INTERFACE_LINK_LIBRARIES ${POLYP_INTERFACE_DEPS})

# ---- pkg-config: Libs.private / Requires.private from the same link list.
set(POLYP_PC_LIBS_PRIVATE "")
set(POLYP_PC_REQUIRES_PRIVATE "")
foreach(dep IN LISTS POLYP_LINK_DEPS)
  if(dep STREQUAL "JPEG::JPEG")
    list(APPEND POLYP_PC_REQUIRES_PRIVATE libjpeg)     # libjpeg-turbo installs libjpeg.pc
  elseif(dep STREQUAL "Threads::Threads")
    list(APPEND POLYP_PC_LIBS_PRIVATE -pthread)
  elseif(dep STREQUAL "CUDA::cudart_static")
    # NVIDIA ships no .pc file for cudart; what FindCUDAToolkit's target links.
    list(APPEND POLYP_PC_LIBS_PRIVATE "-L${CUDAToolkit_LIBRARY_DIR}" -lcudart_static -ldl -lrt -pthread)
  elseif(IS_ABSOLUTE "${dep}" AND dep MATCHES "/lib([^/]+)\\.(so|a)$")
    # Debian's XNNPACK and pthreadpool ship no .pc file: name them (and their folder when
    # the compiler would not search it).
    set(name ${CMAKE_MATCH_1})
    get_filename_component(dir "${dep}" DIRECTORY)
    if(NOT dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
      list(APPEND POLYP_PC_LIBS_PRIVATE "-L${dir}")
    endif()
    list(APPEND POLYP_PC_LIBS_PRIVATE -l${name})
  elseif(dep MATCHES "^[A-Za-z0-9_+-]+$")
    list(APPEND POLYP_PC_LIBS_PRIVATE -l${dep})
  else()
    message(FATAL_ERROR "cmake/install.cmake: polyp_lib links '${dep}', which polyp.pc does not "
                        "know how to name: add it to the Libs.private mapping there")
  endif()
endforeach()
list(REMOVE_DUPLICATES POLYP_PC_LIBS_PRIVATE)
list(JOIN POLYP_PC_LIBS_PRIVATE " " POLYP_PC_LIBS_PRIVATE)
list(JOIN POLYP_PC_REQUIRES_PRIVATE " " POLYP_PC_REQUIRES_PRIVATE)

# The .pc is relocatable (cmake --install --prefix, DESTDIR): paths relative to ${pcfiledir}.
foreach(kind LIBDIR INCLUDEDIR DATADIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(POLYP_PC_${kind} "${CMAKE_INSTALL_${kind}}")
  else()
    set(POLYP_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()
file(RELATIVE_PATH POLYP_PC_RELPREFIX "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
string(REGEX REPLACE "/$" "" POLYP_PC_RELPREFIX "${POLYP_PC_RELPREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/polyp.pc.in ${PROJECT_BINARY_DIR}/public/polyp.pc @ONLY)

# ---- CMake package config.
set(POLYP_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/polyp)
set(POLYP_INSTALL_DATADIR ${CMAKE_INSTALL_DATADIR}/polyp)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/polypConfig.cmake.in
  ${PROJECT_BINARY_DIR}/public/polypConfig.cmake
  INSTALL_DESTINATION ${POLYP_INSTALL_CMAKEDIR}
  PATH_VARS POLYP_INSTALL_DATADIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/public/polypConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${POLYP_VERSION_COMPAT})

# ---- install rules.
install(TARGETS polyp_shared polyp_static EXPORT polypTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/core/polyp.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/public/polyp.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(EXPORT polypTargets NAMESPACE polyp:: DESTINATION ${POLYP_INSTALL_CMAKEDIR})
install(FILES ${PROJECT_BINARY_DIR}/public/polypConfig.cmake
              ${PROJECT_BINARY_DIR}/public/polypConfigVersion.cmake
        DESTINATION ${POLYP_INSTALL_CMAKEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/models/testnet-bnstats.safetensors DESTINATION ${POLYP_INSTALL_DATADIR})
if(TARGET polyp_cli)
  install(TARGETS polyp_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
