# The installed layout and the .deb (scripts/package; docs/packaging.md). Binaries in bin/, the
# sentencepiece shim in lib/<multiarch>/dpo-studio/, the demo and lessons in share/dpo-studio/: the binaries find
# both relative to their own directory (core/runtime/build_info.h.in), so the layout is the same in
# the build tree's bin/ and under /usr.
include(GNUInstallDirs)
set(DPO_PACKAGE_FILES ${CMAKE_BINARY_DIR}/package-files)
# A placeholder (.invalid never resolves) until the project has an address of its own.
set(DPO_MAINTAINER "DPO Studio developers <maintainers@dpo-studio.invalid>")

install(TARGETS dpo RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET dpo_spm_shim)
  install(TARGETS dpo_spm_shim LIBRARY DESTINATION ${DPO_INSTALL_PKGLIBDIR})
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/resources/demo/ DESTINATION ${DPO_INSTALL_PKGDATADIR}/demo
        PATTERN corpus.txt EXCLUDE)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/resources/lessons/ DESTINATION ${DPO_INSTALL_PKGDATADIR}/lessons)

# Made from the built binaries by `ninja dpo_package_files` (scripts/package runs it first): one man
# page per command from its own --help (help2man), the bash completion from the parser
# (dpo completion bash), the icons from widgets/app_icon.cpp, and the changelog, all compressed as
# Debian wants them.
find_program(DPO_HELP2MAN help2man)
find_program(DPO_GZIP gzip REQUIRED)
set(man_outputs ${DPO_PACKAGE_FILES}/man/.stamp)
add_custom_command(
  OUTPUT ${DPO_PACKAGE_FILES}/man/.stamp ${DPO_PACKAGE_FILES}/dpo.bash
  COMMAND ${CMAKE_COMMAND} -DDPO=$<TARGET_FILE:dpo> -DSTUDIO=$<$<BOOL:${DPO_BUILD_GUI}>:$<TARGET_FILE:dpo-studio>>
          -DHELP2MAN=${DPO_HELP2MAN} -DGZIP=${DPO_GZIP} -DVERSION=${PROJECT_VERSION} -DOUT=${DPO_PACKAGE_FILES}
          -P ${CMAKE_CURRENT_LIST_DIR}/make_docs.cmake
  DEPENDS dpo $<$<BOOL:${DPO_BUILD_GUI}>:dpo-studio> ${CMAKE_CURRENT_LIST_DIR}/make_docs.cmake
  COMMENT "Man pages (help2man) and bash completion")
configure_file(${CMAKE_CURRENT_LIST_DIR}/changelog.in ${DPO_PACKAGE_FILES}/changelog @ONLY)
add_custom_command(
  OUTPUT ${DPO_PACKAGE_FILES}/changelog.gz
  COMMAND ${DPO_GZIP} -9nfk ${DPO_PACKAGE_FILES}/changelog
  DEPENDS ${DPO_PACKAGE_FILES}/changelog)
set(package_outputs ${DPO_PACKAGE_FILES}/man/.stamp ${DPO_PACKAGE_FILES}/changelog.gz)

install(DIRECTORY ${DPO_PACKAGE_FILES}/man/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 FILES_MATCHING PATTERN "*.1.gz")
install(FILES ${DPO_PACKAGE_FILES}/dpo.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME dpo)
install(FILES ${DPO_PACKAGE_FILES}/changelog.gz ${CMAKE_CURRENT_LIST_DIR}/copyright
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/dpo-studio)

if(DPO_BUILD_GUI AND TARGET dpo-studio)
  install(TARGETS dpo-studio RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  find_package(Qt6 REQUIRED COMPONENTS Gui)
  add_executable(dpo_make_icons EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/make_icons.cpp)
  target_link_libraries(dpo_make_icons PRIVATE dpo_widgets dpo_warnings)
  add_custom_command(
    OUTPUT ${DPO_PACKAGE_FILES}/icons/.stamp
    COMMAND dpo_make_icons ${DPO_PACKAGE_FILES}/icons ${DPO_APP_ID}
    COMMAND ${CMAKE_COMMAND} -E touch ${DPO_PACKAGE_FILES}/icons/.stamp
    DEPENDS dpo_make_icons
    COMMENT "Application icons (SVG and PNG)")
  list(APPEND package_outputs ${DPO_PACKAGE_FILES}/icons/.stamp)
  install(DIRECTORY ${DPO_PACKAGE_FILES}/icons/ DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor
          FILES_MATCHING PATTERN "*.png" PATTERN "*.svg")
  configure_file(${CMAKE_CURRENT_LIST_DIR}/dpo-studio.desktop.in ${DPO_PACKAGE_FILES}/${DPO_APP_ID}.desktop @ONLY)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/metainfo.xml.in ${DPO_PACKAGE_FILES}/${DPO_APP_ID}.metainfo.xml @ONLY)
  install(FILES ${DPO_PACKAGE_FILES}/${DPO_APP_ID}.desktop DESTINATION ${CMAKE_INSTALL_DATADIR}/applications)
  install(FILES ${DPO_PACKAGE_FILES}/${DPO_APP_ID}.metainfo.xml DESTINATION ${CMAKE_INSTALL_DATADIR}/metainfo)
endif()
add_custom_target(dpo_package_files DEPENDS ${package_outputs})

# The .deb. Shared-library dependencies come from dpkg-shlibdeps; what is loaded at run time without
# a link (Qt's platform plugins, the OpenMP OpenBLAS behind libblas.so.3) is named here.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dpo-studio)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "${DPO_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "desktop studio for Direct Preference Optimization of language models")
# CPack puts the summary first and indents this body; an empty line becomes " .".
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "DPO Studio trains Llama-family models from Hugging Face folders on
preference pairs with DPO and its variants (IPO, cDPO, robust, hinge,
SimPO, ORPO, KTO, ...), and shows the run as it learns: the implicit
reward gap, chosen and rejected log-ratios, accuracy, response length,
diagnostics in plain words and a per-pair inspector.

The package holds the studio (dpo-studio), the command line over the
same engine (dpo: train, sft, eval, rank, pairs, sweep, generate, bench),
a small demo model with its data, and the classroom lessons.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libopenblas0-openmp")
if(DPO_BUILD_GUI)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", qt6-qpa-plugins")
endif()
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/package)
include(CPack)
