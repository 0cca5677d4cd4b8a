#include "nasx/core/html_page.hpp"

#include <cctype>

namespace nasx::core {

namespace {

const char* const kStyle = R"css(
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
.row { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.row img { max-height: 420px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 0.5em 1em; }
.note { background: #fff6d5; border: 1px solid #e6c34c; padding: 0.5em 0.8em; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
code { font-size: 0.9em; }
)css";

bool looks_numeric(const std::string& cell) {
  if (cell.empty()) return false;
  for (char c : cell)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' ||
          c == 'e' || c == ' ' || c == '%'))
      return cell.find("\u00b1") != std::string::npos &&
             std::isdigit(static_cast<unsigned char>(cell[0]));
  return true;
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string html_link(const std::string& href, const std::string& text) {
  return "<a href=\"" + html_escape(href) + "\">" + html_escape(text) + "</a>";
}

HtmlPage::HtmlPage(std::string title) : title_(std::move(title)) {}

void HtmlPage::heading(int level, const std::string& text, const std::string& id) {
  const std::string tag = "h" + std::to_string(level);
  body_ += "<" + tag + (id.empty() ? "" : " id=\"" + html_escape(id) + "\"") + ">" +
           html_escape(text) + "</" + tag + ">\n";
}

void HtmlPage::paragraph(const std::string& text) { body_ += "<p>" + html_escape(text) + "</p>\n"; }

void HtmlPage::raw(const std::string& html) { body_ += "<p>" + html + "</p>\n"; }

void HtmlPage::note(const std::string& text) {
  body_ += "<p class=\"note\">" + html_escape(text) + "</p>\n";
}

void HtmlPage::preformatted(const std::string& text) {
  body_ += "<pre>" + html_escape(text) + "</pre>\n";
}

void HtmlPage::table(const std::vector<std::string>& header,
                     const std::vector<std::vector<std::string>>& rows) {
  body_ += "<table>\n<tr>";
  for (const std::string& cell : header) body_ += "<th>" + html_escape(cell) + "</th>";
  body_ += "</tr>\n";
  for (const auto& row : rows) {
    body_ += "<tr>";
    for (const std::string& cell : row) {
      if (!cell.empty() && cell[0] == '<')
        body_ += "<td>" + cell + "</td>";
      else
        body_ += std::string(looks_numeric(cell) ? "<td class=\"number\">" : "<td>") +
                 html_escape(cell) + "</td>";
    }
    body_ += "</tr>\n";
  }
  body_ += "</table>\n";
}

void HtmlPage::figure(const std::string& file, const std::string& caption) {
  body_ += "<figure><img src=\"" + html_escape(file) + "\" alt=\"" + html_escape(caption) +
           "\"><figcaption>" + html_escape(caption) + "</figcaption></figure>\n";
}

void HtmlPage::figures(const std::vector<std::string>& files, const std::string& caption) {
  body_ += "<figure><div class=\"row\">";
  for (const std::string& file : files)
    body_ += "<img src=\"" + html_escape(file) + "\" alt=\"" + html_escape(file) + "\">";
  body_ += "</div><figcaption>" + html_escape(caption) + "</figcaption></figure>\n";
}

void HtmlPage::gallery(const std::vector<std::pair<std::string, std::string>>& items) {
  if (items.empty()) return;
  body_ += "<div class=\"grid\">\n";
  for (const auto& [file, caption] : items) figure(file, caption);
  body_ += "</div>\n";
}

void HtmlPage::begin_details(const std::string& summary) {
  body_ += "<details><summary>" + html_escape(summary) + "</summary>\n";
}

void HtmlPage::end_details() { body_ += "</details>\n"; }

std::string HtmlPage::html() const {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
         html_escape(title_) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<h1>" +
         html_escape(title_) + "</h1>\n" + body_ + "<footer><p><small>Written by nasx report; " +
         "run it again to bring it up to date.</small></p></footer>\n</body>\n</html>\n";
}

}  // namespace nasx::core
