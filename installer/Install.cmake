# Install layout used by the future .deb: binaries and the sentencepiece shim side by side in bin/.
install(TARGETS dpo RUNTIME DESTINATION bin)
install(TARGETS dpo_spm_shim LIBRARY DESTINATION bin)
if(DPO_BUILD_GUI)
  if(TARGET dpo-studio)
    install(TARGETS dpo-studio RUNTIME DESTINATION bin)
  endif()
endif()
