#include "darts/genotype.hpp"

#include <cctype>
#include <sstream>

#include "darts/ops.hpp"
#include "nasx/error.hpp"

namespace nasx {

namespace {

constexpr int kNodes = 4;
constexpr int kEntriesPerCell = 2 * kNodes;

std::string concat_text(const std::vector<int>& concat) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < concat.size(); ++i) out << (i ? ", " : "") << concat[i];
  out << ']';
  return out.str();
}

std::string edges_text(const std::vector<GenotypeEdge>& edges) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < edges.size(); ++i)
    out << (i ? ", " : "") << "('" << edges[i].op << "', " << edges[i].input << ')';
  out << ']';
  return out.str();
}

/// Recursive-descent reader of the DARTS text form that remembers where it is,
/// so every error can point at the offending character.
class GenotypeReader {
 public:
  explicit GenotypeReader(std::string_view text) : text_(text) {}

  Genotype read() {
    Genotype genotype;
    expect_word("Genotype");
    expect('(');
    expect_keyword("normal");
    genotype.normal = read_edges();
    expect(',');
    expect_keyword("normal_concat");
    genotype.normal_concat = read_concat();
    expect(',');
    expect_keyword("reduce");
    genotype.reduce = read_edges();
    expect(',');
    expect_keyword("reduce_concat");
    genotype.reduce_concat = read_concat();
    skip_space();
    if (peek() == ',') ++pos_;  // a trailing comma, as Python allows
    expect(')');
    skip_space();
    if (pos_ != text_.size()) fail(pos_, "unexpected text after the closing ')'");
    return genotype;
  }

  [[noreturn]] void fail(size_t at, const std::string& what) const {
    std::ostringstream out;
    out << "genotype, column " << at + 1 << ": " << what << "\n  " << text_ << "\n  "
        << std::string(at, ' ') << "^\n"
        << "expected the DARTS form: Genotype(normal=[('sep_conv_3x3', 0), ...], "
           "normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=range(2, 6))";
    throw GenotypeError(out.str());
  }

  /// Positions of the op names and inputs read, for validation messages.
  std::vector<size_t> op_positions, input_positions, concat_positions;

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  std::string found() const {
    if (pos_ >= text_.size()) return "the end of the text";
    return std::string("'") + text_[pos_] + "'";
  }

  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  void expect(char c) {
    skip_space();
    if (peek() != c) fail(pos_, std::string("expected '") + c + "', found " + found());
    ++pos_;
  }

  std::string word() {
    skip_space();
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_'))
      ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  void expect_word(const std::string& expected) {
    skip_space();
    size_t start = pos_;
    if (word() != expected) {
      pos_ = start;
      fail(start, "expected '" + expected + "', found " + found());
    }
  }

  void expect_keyword(const std::string& key) {
    expect_word(key);
    expect('=');
  }

  int read_int() {
    skip_space();
    size_t start = pos_;
    bool negative = peek() == '-';
    if (negative) ++pos_;
    if (!std::isdigit(static_cast<unsigned char>(peek())))
      fail(pos_, "expected an integer, found " + found());
    long value = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      value = value * 10 + (text_[pos_] - '0');
      if (value > 1000000) fail(start, "integer out of range");
      ++pos_;
    }
    return static_cast<int>(negative ? -value : value);
  }

  std::string read_string() {
    skip_space();
    char quote = peek();
    if (quote != '\'' && quote != '"')
      fail(pos_, "expected a quoted operation name, found " + found());
    ++pos_;
    size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) ++pos_;
    if (pos_ >= text_.size()) fail(start - 1, "unterminated string");
    std::string value(text_.substr(start, pos_ - start));
    ++pos_;
    return value;
  }

  std::vector<GenotypeEdge> read_edges() {
    std::vector<GenotypeEdge> edges;
    expect('[');
    skip_space();
    while (peek() != ']') {
      expect('(');
      skip_space();
      op_positions.push_back(pos_);
      GenotypeEdge edge;
      edge.op = read_string();
      expect(',');
      skip_space();
      input_positions.push_back(pos_);
      edge.input = read_int();
      expect(')');
      edges.push_back(edge);
      skip_space();
      if (peek() == ',') {
        ++pos_;
        skip_space();
      } else if (peek() != ']') {
        fail(pos_, "expected ',' or ']' after an edge, found " + found());
      }
    }
    ++pos_;
    return edges;
  }

  std::vector<int> read_concat() {
    std::vector<int> concat;
    skip_space();
    concat_positions.push_back(pos_);
    if (peek() == '[') {
      ++pos_;
      skip_space();
      while (peek() != ']') {
        concat.push_back(read_int());
        skip_space();
        if (peek() == ',') {
          ++pos_;
          skip_space();
        } else if (peek() != ']') {
          fail(pos_, "expected ',' or ']' in the concat list, found " + found());
        }
      }
      ++pos_;
      return concat;
    }
    size_t start = pos_;
    if (word() != "range") fail(start, "expected a list [2, 3, 4, 5] or range(2, 6)");
    expect('(');
    int first = read_int();
    expect(',');
    int last = read_int();
    expect(')');
    if (last - first > 64) fail(start, "range too long");
    for (int i = first; i < last; ++i) concat.push_back(i);
    return concat;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

void validate_cell(GenotypeReader& reader, const std::vector<GenotypeEdge>& edges,
                   const std::vector<int>& concat, size_t first_entry, size_t concat_index,
                   const char* cell) {
  if (edges.size() != kEntriesPerCell)
    reader.fail(first_entry < reader.op_positions.size() ? reader.op_positions[first_entry]
                                                         : reader.concat_positions[concat_index],
                std::string("the ") + cell + " cell has " + std::to_string(edges.size()) +
                    " edges; a DARTS cell has " + std::to_string(kEntriesPerCell) +
                    " (2 per node)");
  for (size_t i = 0; i < edges.size(); ++i) {
    const auto& op = edges[i].op;
    if (op == "none" || darts::operation_index(op) < 0) {
      std::string known;
      for (const auto& name : darts::operation_names())
        if (name != "none") known += (known.empty() ? "" : ", ") + name;
      reader.fail(reader.op_positions[first_entry + i],
                  "'" + op + "' is not an operation of the DARTS space (" + known + ")");
    }
    int node = static_cast<int>(i / 2);
    if (edges[i].input < 0 || edges[i].input >= node + 2)
      reader.fail(reader.input_positions[first_entry + i],
                  "node " + std::to_string(node) + " of the " + cell +
                      " cell can only take input 0.." + std::to_string(node + 1) + ", not " +
                      std::to_string(edges[i].input));
  }
  if (concat.empty())
    reader.fail(reader.concat_positions[concat_index], std::string(cell) + "_concat is empty");
  for (int index : concat)
    if (index < 0 || index >= kNodes + 2)
      reader.fail(
          reader.concat_positions[concat_index],
          std::string(cell) + "_concat names state " + std::to_string(index) + "; states are 0..5");
}

}  // namespace

bool Genotype::operator==(const Genotype& other) const {
  return normal == other.normal && normal_concat == other.normal_concat && reduce == other.reduce &&
         reduce_concat == other.reduce_concat;
}

std::string Genotype::str() const {
  return "Genotype(normal=" + edges_text(normal) + ", normal_concat=" + concat_text(normal_concat) +
         ", reduce=" + edges_text(reduce) + ", reduce_concat=" + concat_text(reduce_concat) + ")";
}

Genotype Genotype::parse(std::string_view text) {
  GenotypeReader reader(text);
  Genotype genotype = reader.read();
  validate_cell(reader, genotype.normal, genotype.normal_concat, 0, 0, "normal");
  validate_cell(reader, genotype.reduce, genotype.reduce_concat, genotype.normal.size(), 1,
                "reduce");
  return genotype;
}

Json Genotype::json() const {
  auto edges = [](const std::vector<GenotypeEdge>& list) {
    Json out = Json::array();
    for (const GenotypeEdge& edge : list) out.push_back(Json::array({edge.op, edge.input}));
    return out;
  };
  return {{"normal", edges(normal)},
          {"normal_concat", normal_concat},
          {"reduce", edges(reduce)},
          {"reduce_concat", reduce_concat}};
}

}  // namespace nasx
