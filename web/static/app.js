// Progressive: the form works without it; with it, "再加一条" adds a row, and the Mini App
// page posts Telegram's signed data (passed in the address's #tgWebAppData) to sign in.
(function () {
  var add = document.getElementById("add-row");
  if (add) {
    add.addEventListener("click", function () {
      var rows = document.getElementById("rows");
      var row = rows.querySelector(".row").cloneNode(true);
      row.querySelector("textarea").value = "";
      row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      row.querySelectorAll("select").forEach(function (select) { select.selectedIndex = 0; });
      rows.appendChild(row);
      row.querySelector("textarea").focus();
    });
  }
  // A withdrawal asks first (one tap next to the text is easy to make by mistake).
  document.addEventListener("submit", function (event) {
    var question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
  // Collaborator suggestions from the roster while typing (the field works without them).
  var timer = null;
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.dataset || !input.dataset.suggest) return;
    clearTimeout(timer);
    timer = setTimeout(function () {
      var text = input.value.trim();
      if (!text) return;
      fetch(input.dataset.suggest + "?q=" + encodeURIComponent(text), { credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.json() : []; })
        .then(function (found) {
          var list = document.getElementById(input.getAttribute("list"));
          list.textContent = "";
          found.forEach(function (item) {
            var option = document.createElement("option");
            option.value = item.value;
            option.label = item.unit;
            list.appendChild(option);
          });
        })
        .catch(function () {});
    }, 200);
  });
  var login = document.getElementById("app-login");
  if (login) {
    var data = new URLSearchParams(location.hash.slice(1)).get("tgWebAppData");
    if (data) {
      login.elements.init_data.value = data;
      login.submit();
    } else {
      document.getElementById("app-status").textContent = "请从 Telegram 机器人中打开。";
    }
  }
})();
