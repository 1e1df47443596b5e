#pragma once

// The create call's documented scenes schema (SPEC §12), checked before a
// credit is spent: `scenes` a non-empty array; each scene an object with an
// integer `sceneIdx`, an object `background` and an array `clips`; each clip
// an object with a string `id`, a `type` the API knows, numbers `height`,
// `width`, `left`, `top`, an integer `layer`, and numbers `scaleX`/`scaleY`
// where present. Unknown fields pass (the API has many). Pure.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

namespace exportd {

// Each problem as "<JSON pointer>: <what is wrong>", in document order;
// `pointer` is where `scenes` stands in its file ("/scenes" or "").
// At most `max` problems, then one line saying how many more.
std::vector<std::string> scenes_schema_problems(const boost::json::value& scenes, std::string_view pointer,
                                                std::size_t max = 20);

// The clip types the create call documents.
bool is_clip_type(std::string_view type);

}  // namespace exportd
