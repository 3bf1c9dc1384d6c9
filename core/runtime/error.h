#pragma once
#include <stdexcept>
#include <string>

namespace dpo {

// Base of every error the core throws; the message is one line a user can act on.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad input data: the message names the file and line (or row) and the field.
class DataError : public Error {
 public:
  using Error::Error;
};

class TokenizerError : public Error {
 public:
  using Error::Error;
};

class ModelError : public Error {
 public:
  using Error::Error;
};

class ConfigError : public Error {
 public:
  using Error::Error;
};

// Training cannot go on (repeated non-finite steps, a checkpoint that does not match the run).
class TrainingError : public Error {
 public:
  using Error::Error;
};

// The user cancelled a long operation (preparation, a reference pass); not a failure.
class Cancelled : public Error {
 public:
  using Error::Error;
};

// "file:line: message"
std::string located(const std::string& file, size_t line, const std::string& message);

}  // namespace dpo
