Gem::Specification.new do |spec|
  spec.name = "greeting"
  spec.version = "1.0.0"
  spec.summary = "The app's greeting, as a path gem"
  spec.authors = ["Deis examples"]
  spec.files = ["lib/greeting.rb"]
end
