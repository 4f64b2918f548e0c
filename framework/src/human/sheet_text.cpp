#include "human/sheet_text.h"

#include <algorithm>
#include <cctype>

namespace mike {

namespace {

std::string html_escaped(const std::string& text) {
  std::string out;
  for (const char c : text) {
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

std::string base64(const std::string& bytes) {
  static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t chunk = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) chunk |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) chunk |= static_cast<unsigned char>(bytes[i + 2]);
    out += digits[(chunk >> 18) & 63];
    out += digits[(chunk >> 12) & 63];
    out += i + 1 < bytes.size() ? digits[(chunk >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? digits[chunk & 63] : '=';
  }
  return out;
}

// The page's behaviour. Ratings live in the radio buttons; every change is
// kept in the browser's localStorage under the sheet's id, so a rater can
// close the page and go on later. "Export ratings" writes ratings.csv (one
// row per caption, an unrated criterion left empty) into the text box and
// offers it as a download, so it also works where downloads are blocked.
const char* kScript = R"JS(
(function () {
  const criteria = JSON.parse(document.getElementById('criteria').textContent);
  const storageKey = 'mike-human-' + document.body.dataset.sheet;
  const captions = Array.from(document.querySelectorAll('.caption'));
  function field(text) {
    text = String(text);
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  function value(item, key) {
    const checked = document.querySelector('input[name="' + item + ':' + key + '"]:checked');
    return checked ? checked.value : '';
  }
  function progress() {
    const done = captions.filter(c => criteria.every(k => value(c.dataset.item, k.key) !== '')).length;
    document.getElementById('progress').textContent = done + ' of ' + captions.length + ' captions rated';
  }
  function save() {
    const state = {rater: document.getElementById('rater').value, ratings: {}};
    for (const c of captions)
      for (const k of criteria) {
        const v = value(c.dataset.item, k.key);
        if (v !== '') state.ratings[c.dataset.item + ':' + k.key] = v;
      }
    try { localStorage.setItem(storageKey, JSON.stringify(state)); } catch (e) { /* private mode: no progress kept */ }
    progress();
  }
  function restore() {
    let state = null;
    try { state = JSON.parse(localStorage.getItem(storageKey) || 'null'); } catch (e) { state = null; }
    if (!state) return;
    document.getElementById('rater').value = state.rater || '';
    for (const [name, v] of Object.entries(state.ratings || {})) {
      const input = document.querySelector('input[name="' + name + '"][value="' + v + '"]');
      if (input) input.checked = true;
    }
  }
  function exportRatings() {
    const rater = document.getElementById('rater').value.trim();
    const status = document.getElementById('status');
    if (!rater) {
      status.textContent = 'Enter your rater name first.';
      document.getElementById('rater').focus();
      return;
    }
    let csv = 'rater,item_id,' + criteria.map(k => k.key).join(',') + '\n';
    for (const c of captions)
      csv += [rater, c.dataset.item].concat(criteria.map(k => value(c.dataset.item, k.key))).map(field).join(',') + '\n';
    document.getElementById('export').value = csv;
    status.textContent = 'ratings.csv is in the box below (and downloaded where the browser allows).';
    try {
      const link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([csv], {type: 'text/csv'}));
      link.download = 'ratings-' + rater.replace(/[^A-Za-z0-9_-]/g, '_') + '.csv';
      document.body.appendChild(link);
      link.click();
      link.remove();
    } catch (e) { /* the text box still has it */ }
  }
  document.addEventListener('change', save);
  document.getElementById('rater').addEventListener('input', save);
  document.getElementById('export-button').addEventListener('click', exportRatings);
  window.mikeSheet = {exportRatings: exportRatings};
  restore();
  progress();
})();
)JS";

const char* kStyle = R"CSS(
body { font-family: sans-serif; max-width: 60em; margin: 1em auto; padding: 0 1em; color: #222; }
header { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #ccc; padding: .5em 0; z-index: 1; }
.entity { border: 1px solid #ccc; border-radius: 6px; padding: 1em; margin: 1em 0; }
.entity img { width: 160px; height: 160px; image-rendering: pixelated; float: right; margin-left: 1em; border: 1px solid #ddd; }
.reference { color: #444; }
.caption { clear: both; border-top: 1px dashed #ccc; padding: .6em 0; }
.caption .text { font-size: 1.1em; margin: .3em 0; }
.criterion { margin: .2em 0; }
.criterion span.question { display: inline-block; min-width: 16em; }
label { margin-right: .6em; }
textarea { width: 100%; height: 8em; font-family: monospace; }
)CSS";

}  // namespace

const std::vector<RatingCriterion>& rating_criteria() {
  static const std::vector<RatingCriterion> criteria = {
      {"names", "Names the entity correctly (0 no, 1 yes)", 0, 1},
      {"describes", "Describes the entity correctly (1 not at all - 5 fully)", 1, 5},
      {"fluent", "Is fluent English (1 not at all - 5 fully)", 1, 5},
  };
  return criteria;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string csv_row(const std::vector<std::string>& fields) {
  std::string row;
  for (std::size_t i = 0; i < fields.size(); ++i) row += (i ? "," : "") + csv_field(fields[i]);
  return row + "\n";
}

std::string image_media_type(const std::filesystem::path& image) {
  std::string ext = image.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".bmp") return "image/bmp";
  return "application/octet-stream";
}

std::string sheet_html(const std::vector<SheetEntity>& entities, std::uint64_t seed) {
  std::size_t captions = 0;
  for (const SheetEntity& entity : entities) captions += entity.captions.size();
  // The sheet's id keeps the progress of two sheets apart in one browser.
  std::string sheet_id = "s" + std::to_string(seed) + "-" + std::to_string(entities.size()) + "-" +
                         (entities.empty() || entities.front().captions.empty() ? "" : entities.front().captions.front().item_id);
  std::string criteria_json = "[";
  for (const RatingCriterion& c : rating_criteria())
    criteria_json += std::string(criteria_json.size() > 1 ? "," : "") + "{\"key\":\"" + c.key + "\"}";
  criteria_json += "]";
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<title>Rate the captions</title>\n<style>" + std::string(kStyle) + "</style>\n</head>\n";
  html += "<body data-sheet=\"" + html_escaped(sheet_id) + "\">\n<header>\n<h1>Rate the captions</h1>\n";
  html += "<p>Each box shows one entity: its picture, its name and how it is described. Below it are " +
          std::to_string(captions / std::max<std::size_t>(1, entities.size())) +
          " captions that different systems wrote for the picture, in a random order. Rate every caption on "
          "its own; do not guess which system wrote it. Your ratings are kept in this browser as you go.</p>\n";
  html += "<p><label>Your rater name: <input id=\"rater\" autocomplete=\"off\"></label> "
          "<button id=\"export-button\" type=\"button\">Export ratings</button> "
          "<span id=\"progress\"></span> <span id=\"status\"></span></p>\n</header>\n<main>\n";
  for (const SheetEntity& entity : entities) {
    html += "<section class=\"entity\">\n<img alt=\"the entity\" src=\"data:" + entity.image_type + ";base64," +
            base64(entity.image_bytes) + "\">\n";
    html += "<h2>" + html_escaped(entity.name) + "</h2>\n<div class=\"reference\">Described as:<ul>\n";
    for (const std::string& reference : entity.references) html += "<li>" + html_escaped(reference) + "</li>\n";
    html += "</ul></div>\n";
    for (const SheetCaption& caption : entity.captions) {
      const std::string id = html_escaped(caption.item_id);
      html += "<div class=\"caption\" data-item=\"" + id + "\">\n<div class=\"id\">" + id +
              "</div>\n<div class=\"text\">" + html_escaped(caption.text.empty() ? "(empty caption)" : caption.text) +
              "</div>\n";
      for (const RatingCriterion& criterion : rating_criteria()) {
        html += "<div class=\"criterion\"><span class=\"question\">" + html_escaped(criterion.question) + "</span>";
        for (int v = criterion.min; v <= criterion.max; ++v)
          html += "<label><input type=\"radio\" name=\"" + id + ":" + criterion.key + "\" value=\"" +
                  std::to_string(v) + "\"> " + std::to_string(v) + "</label>";
        html += "</div>\n";
      }
      html += "</div>\n";
    }
    html += "</section>\n";
  }
  html += "</main>\n<h2>Exported ratings</h2>\n<textarea id=\"export\" readonly></textarea>\n";
  html += "<script type=\"application/json\" id=\"criteria\">" + criteria_json + "</script>\n";
  html += "<script>" + std::string(kScript) + "</script>\n</body>\n</html>\n";
  return html;
}

std::string items_csv(const std::vector<SheetEntity>& entities) {
  std::string csv = "item_id,record_id,entity_name,reference_captions,caption";
  for (const RatingCriterion& c : rating_criteria()) csv += std::string(",") + c.key;
  csv += "\n";
  for (const SheetEntity& entity : entities) {
    std::string references;
    for (const std::string& r : entity.references) references += (references.empty() ? "" : " | ") + r;
    for (const SheetCaption& caption : entity.captions) {
      std::vector<std::string> fields = {caption.item_id, entity.record_id, entity.name, references, caption.text};
      fields.resize(fields.size() + rating_criteria().size());  // for the rater to fill
      csv += csv_row(fields);
    }
  }
  return csv;
}

}  // namespace mike
