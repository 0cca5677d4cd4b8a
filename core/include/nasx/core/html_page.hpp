#pragma once
/// A static HTML page that opens from disk: inline style, no script, no network; its
/// figures are files beside it, referenced by relative path.

#include <string>
#include <utility>
#include <vector>

namespace nasx::core {

/// `text` with &, <, >, " and ' escaped.
std::string html_escape(const std::string& text);

class HtmlPage {
 public:
  explicit HtmlPage(std::string title);

  void heading(int level, const std::string& text, const std::string& id = "");
  void paragraph(const std::string& text);
  /// A paragraph of HTML the caller built (links, emphasis); not escaped.
  void raw(const std::string& html);
  /// A highlighted box: what is missing and what adds it.
  void note(const std::string& text);
  void preformatted(const std::string& text);
  /// A table; cells are text, except those starting with '<', taken as HTML (links).
  void table(const std::vector<std::string>& header,
             const std::vector<std::vector<std::string>>& rows);
  /// An image (a file beside the page) with a caption.
  void figure(const std::string& file, const std::string& caption);
  /// Figures side by side (cell diagrams of one architecture).
  void figures(const std::vector<std::string>& files, const std::string& caption);
  /// Figures, each with its caption, two to a row (curves).
  void gallery(const std::vector<std::pair<std::string, std::string>>& files_and_captions);
  /// Opens/closes a collapsible block (closed at first).
  void begin_details(const std::string& summary);
  void end_details();

  /// Appends the body of `other` (built separately, e.g. while notes were gathered).
  void raw_body(const HtmlPage& other) { body_ += other.body_; }

  std::string html() const;

 private:
  std::string title_, body_;
};

/// <a href="href">text</a>, both escaped.
std::string html_link(const std::string& href, const std::string& text);

}  // namespace nasx::core
