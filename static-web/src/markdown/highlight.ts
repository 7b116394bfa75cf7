import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import csharp from "highlight.js/lib/languages/csharp";
import css from "highlight.js/lib/languages/css";
import diff from "highlight.js/lib/languages/diff";
import go from "highlight.js/lib/languages/go";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import kotlin from "highlight.js/lib/languages/kotlin";
import markdown from "highlight.js/lib/languages/markdown";
import php from "highlight.js/lib/languages/php";
import powershell from "highlight.js/lib/languages/powershell";
import python from "highlight.js/lib/languages/python";
import ruby from "highlight.js/lib/languages/ruby";
import rust from "highlight.js/lib/languages/rust";
import sql from "highlight.js/lib/languages/sql";
import swift from "highlight.js/lib/languages/swift";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

/**
 * highlight.js core with the languages chat replies use most (each registers its usual aliases: js,
 * ts, py, sh, cs, html, yml…). Only fences that name a language are highlighted: guessing costs a
 * pass per language, on every update of a streaming block.
 */
const languages = { bash, c, cpp, csharp, css, diff, go, java, javascript, json, kotlin, markdown, php, powershell, python, ruby, rust, sql, swift, typescript, xml, yaml };
for (const [name, language] of Object.entries(languages)) hljs.registerLanguage(name, language);
hljs.registerAliases(["shell", "console", "zsh"], { languageName: "bash" });

export function isHighlighted(lang: string): boolean {
  return lang !== "" && hljs.getLanguage(lang) !== undefined;
}

/**
 * HTML for `code` in `lang`: highlight.js escapes every character of the text and adds only
 * `<span class="hljs-…">`, so model text cannot become markup. Undefined for a language not in the set.
 */
export function highlightCode(code: string, lang: string): string | undefined {
  if (!isHighlighted(lang)) return undefined;
  return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
}
