// forward-ctl's human output: a command's JSON result as aligned text
// tables (pure: unit-tested). --json prints the result itself instead.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

// Columns padded to their widest cell, two spaces apart, headers first;
// the last column is not padded.
std::string format_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows);

// The text forward-ctl prints for command's result.
std::string format_result(const std::string& command, const nlohmann::json& result);

// "1.5 KiB", "3.0 MiB": bytes for people; "2h03m", "45s": durations.
std::string human_bytes(uint64_t n);
std::string human_duration(int64_t seconds);
