# Configure-time layering checks (docs/architecture.md): the Qt views in widgets/ include nothing
# from app/ and no torch; the value headers in core/types/ include nothing that pulls torch or Qt in.
# Project headers a file of DIR may include must match ALLOWED (a regex on the quoted path).
function(dpo_check_includes dir allowed)
  file(GLOB_RECURSE files "${dir}/*.h" "${dir}/*.cpp")
  foreach(f IN LISTS files)
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include")
    foreach(line IN LISTS lines)
      if(line MATCHES "<(torch|ATen|c10)/" OR line MATCHES "\"(torch|ATen|c10)/")
        message(FATAL_ERROR "${f}: includes torch (${line}); ${dir} must stay torch-free")
      endif()
      if(line MATCHES "#[ \t]*include[ \t]*\"([^\"]+)\"")
        set(path "${CMAKE_MATCH_1}")
        if(NOT path MATCHES "${allowed}")
          message(FATAL_ERROR "${f}: includes \"${path}\"; files in ${dir} may include only ${allowed}")
        endif()
      endif()
    endforeach()
  endforeach()
endfunction()

dpo_check_includes("${PROJECT_SOURCE_DIR}/widgets" "^(widgets/|core/types/|ui_|moc_)")
dpo_check_includes("${PROJECT_SOURCE_DIR}/core/types" "^core/(types/|runtime/error\\.h$)")
