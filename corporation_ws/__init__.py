"""The State Corporation operator's workstation (ЫАЖ АЖО): front-office requests and the results
handed to applicants who came to a front office."""
