// Reel Notes: the two things that need JavaScript, and nothing else.
// The site reads completely without this file; it only adds the colour-scheme
// toggle and the search box (Pagefind, loaded on the search page only).
(function () {
  "use strict";

  var STORAGE_KEY = "scheme"; // also read by the inline script in partials/head.html
  var root = document.documentElement;
  var systemDark = window.matchMedia("(prefers-color-scheme: dark)");

  function currentScheme() {
    return root.getAttribute("data-scheme") || (systemDark.matches ? "dark" : "light");
  }

  function setUpSchemeToggle(button) {
    function show() {
      button.setAttribute("aria-pressed", String(currentScheme() === "dark"));
    }
    button.addEventListener("click", function () {
      var next = currentScheme() === "dark" ? "light" : "dark";
      root.setAttribute("data-scheme", next);
      try {
        localStorage.setItem(STORAGE_KEY, next);
      } catch (e) {
        // Private browsing may refuse storage: the choice then lasts for this page only.
      }
      show();
    });
    systemDark.addEventListener("change", show);
    show();
    button.hidden = false;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function setUpSearch(form) {
    var input = form.querySelector("input[type=search]");
    var status = document.querySelector(".search-status");
    var list = document.querySelector(".search-results");
    var bundleUrl = new URL(form.getAttribute("data-pagefind-bundle"), location.href).href;
    var siteRoot = new URL(form.getAttribute("data-site-root"), location.href);
    var pagefind = null;
    var latest = 0;

    function load() {
      if (!pagefind) {
        pagefind = import(bundleUrl).then(function (module) {
          // Result URLs are built from this, so the site may live in a subfolder.
          return module.options({ baseUrl: siteRoot.pathname }).then(function () { return module; });
        });
      }
      return pagefind;
    }

    function render(result) {
      var item = el("li", "search-result");
      var link = el("a", "search-result-link");
      link.href = result.url;
      if (result.meta.image) {
        var image = el("img");
        // The page stores the poster URL relative to itself (or absolute).
        image.src = new URL(result.meta.image, new URL(result.url, location.href)).href;
        image.alt = "";
        image.width = 64;
        image.height = 96;
        image.loading = "lazy";
        item.appendChild(image);
      }
      link.appendChild(el("span", "search-result-title", result.meta.title || result.url));
      item.appendChild(link);
      var excerpt = el("p", "search-result-excerpt");
      // Pagefind escapes the page text; its only markup is <mark> around matches.
      excerpt.innerHTML = result.excerpt;
      item.appendChild(excerpt);
      return item;
    }

    function run(query) {
      var ticket = ++latest;
      query = query.trim();
      if (!query) {
        list.replaceChildren();
        status.textContent = "";
        return Promise.resolve();
      }
      status.textContent = "Searching…";
      return load()
        .then(function (module) { return module.search(query); })
        .then(function (search) {
          return Promise.all(search.results.slice(0, 20).map(function (r) { return r.data(); }))
            .then(function (results) {
              if (ticket !== latest) return; // a newer query has taken over
              list.replaceChildren.apply(list, results.map(render));
              var count = search.results.length;
              status.textContent = count
                ? count + (count === 1 ? " review matches " : " reviews match ") + "“" + query + "”."
                : "No reviews match “" + query + "”. Try a film, a director or an actor.";
            });
        })
        .catch(function () {
          if (ticket !== latest) return;
          status.textContent = "Search is not available right now; the lists below still reach every review.";
        });
    }

    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { run(input.value); }, 200);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearTimeout(timer);
      var url = new URL(location.href);
      url.searchParams.set("q", input.value.trim());
      history.replaceState(null, "", url);
      run(input.value);
    });

    document.querySelectorAll(".search-no-js").forEach(function (node) { node.hidden = true; });
    form.hidden = false;
    var initial = new URLSearchParams(location.search).get("q");
    if (initial) {
      input.value = initial;
      run(initial);
    }
  }

  var toggle = document.querySelector(".scheme-toggle");
  if (toggle) setUpSchemeToggle(toggle);
  var searchForm = document.querySelector(".search-form");
  if (searchForm) setUpSearch(searchForm);
})();
