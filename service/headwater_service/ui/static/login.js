// The login form: carry ?next= through and show the "wrong key" message.
const params = new URLSearchParams(location.search);
document.getElementById("next").value = params.get("next") || "/ui/";
if (params.get("error")) document.getElementById("error").hidden = false;
