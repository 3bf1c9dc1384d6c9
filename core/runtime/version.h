#pragma once
// The parts of version_string() (runtime.h), for displays that lay them out themselves.
namespace dpo {

// CMake's project(VERSION), e.g. "0.1.0": the one place the version is written.
const char* version();

// The libtorch this build compiled against, e.g. "1.13.1".
const char* torch_version();

}  // namespace dpo
