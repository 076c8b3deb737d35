// Progressive: the form works without it; with it, "再加一条" adds a row, and the Mini App
// page posts Telegram's signed data (passed in the address's #tgWebAppData) to sign in.
(function () {
  var add = document.getElementById("add-row");
  if (add) {
    add.addEventListener("click", function () {
      var rows = document.getElementById("rows");
      var row = rows.querySelector(".row").cloneNode(true);
      row.querySelector("textarea").value = "";
      rows.appendChild(row);
      row.querySelector("textarea").focus();
    });
  }
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
